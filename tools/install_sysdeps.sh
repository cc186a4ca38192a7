#!/usr/bin/env bash
# Debian packages the embedded corpus (egs2/mini_es_en) is built from: espeak-ng speaks,
# Apertium translates (into English, Catalan, Portuguese), fortunes-es supplies the Spanish
# sentences, sox (with its codec formats: G.711, GSM, AMR-NB) makes the telephone channel.
# Installs what is missing.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v apertium >/dev/null || missing+=(apertium)
[ -d /usr/share/apertium/modes ] && ls /usr/share/apertium/modes/spa-eng.mode >/dev/null 2>&1 \
    || missing+=(apertium-eng-spa)
ls /usr/share/apertium/modes/spa-cat.mode >/dev/null 2>&1 || missing+=(apertium-spa-cat)
ls /usr/share/apertium/modes/es-pt.mode >/dev/null 2>&1 || missing+=(apertium-es-pt)
command -v cg-proc >/dev/null || missing+=(cg3)  # es-pt's constraint grammar step
ls /usr/share/games/fortunes/es/*.u8 >/dev/null 2>&1 || missing+=(fortunes-es)
command -v sox >/dev/null || missing+=(sox)
sox -h 2>/dev/null | grep -q "amr-nb" || missing+=(libsox-fmt-all)

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    exit 0
fi
echo "system packages missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root, or install them yourself: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
