#!/usr/bin/env bash
# Make a new recipe from this template, as ESPnet's egs2/TEMPLATE/*/setup.sh does:
#
#   egs2/TEMPLATE/setup.sh egs2/<corpus>/s2t1
#
# It copies run.sh, local/data.sh (a stub that says what to write) and README.md, and links
# conf -> ../../../conf (the shared configs). Then: write local/data.sh, set the corpus lines of
# run.sh (languages, set names, bandwidth labels), and run ./run.sh --help.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 egs2/<corpus>/s2t1" >&2; exit 1; }
template=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/s2t1
root=$(cd "${template}/../../.." && pwd)
target=$1
mkdir -p "$(dirname "${target}")"
target_abs=$(cd "$(dirname "${target}")" && pwd)/$(basename "${target}")
case "${target_abs}" in
"${root}"/egs2/*/s2t1) ;;
*) echo "$0: '${target}' must be egs2/<corpus>/s2t1 inside ${root} (run.sh reaches local/ as ../../../local)" >&2
   exit 1 ;;
esac
[ ! -e "${target_abs}" ] || { echo "$0: ${target} exists; not overwritten" >&2; exit 1; }
corpus=$(basename "$(dirname "${target_abs}")")
mkdir -p "${target_abs}/local"
sed "s/@CORPUS@/${corpus}/g" "${template}/run.sh" > "${target_abs}/run.sh"
sed "s/@CORPUS@/${corpus}/g" "${template}/README.md" > "${target_abs}/README.md"
cp "${template}/local/data.sh" "${target_abs}/local/data.sh"
chmod +x "${target_abs}/run.sh" "${target_abs}/local/data.sh"
ln -s ../../../conf "${target_abs}/conf"
echo "made ${target}: write ${target}/local/data.sh (its header says what), set the corpus lines of run.sh, then: cd ${target} && ./run.sh --help"
