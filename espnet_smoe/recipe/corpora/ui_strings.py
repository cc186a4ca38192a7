"""Spanish/English sentence pairs from the translated messages of installed programs.

The Spanish catalogues under ``/usr/share/locale/es/LC_MESSAGES`` (``<domain>.mo``) pair each
program's English message (``msgid``) with a translator's Spanish (``msgstr``): a parallel corpus
written by people, of another genre (software messages) than the fortunes mini_es_en is made of.
``test_ood`` takes its sentences from :data:`TEST_DOMAINS`; a training set may add sentences
from the other domains (:data:`TRAIN_DOMAINS`), never from those.
"""

import re
import unicodedata
from pathlib import Path
from typing import List, Sequence, Tuple

import polib

from espnet_smoe.recipe.corpora.prep import PrepError

LOCALE = Path("/usr/share/locale/es/LC_MESSAGES")
# Messages of everyday command-line and desktop tools: test_ood's sources (each domain is its
# Debian package's name but for libc: libc-bin, glib20: libglib2.0-0, gtk20: libgtk2.0-common)
TEST_DOMAINS = ("apt", "bash", "coreutils", "diffutils", "dpkg", "findutils", "grep", "gtk20",
                "glib20", "libc", "tar", "wget")
# Other programs' messages (compilers, databases, version control, ...): a second text source
# for training, disjoint from test_ood's
TRAIN_DOMAINS = ("appstream", "binutils", "gas", "gettext-tools", "git", "gnupg2", "gnutls30",
                 "gsettings-desktop-schemas", "gstreamer-1.0", "gtk20-properties", "ld",
                 "postgres-15", "psql-15", "shared-mime-info", "systemd")
SPANISH = re.compile(r"^[A-Za-zÁÉÍÓÚÜÑáéíóúüñ ,;:.¡!¿?-]+$")
ENGLISH = re.compile(r"^[A-Za-z ,;:.!?'-]+$")
ACRONYM = re.compile(r"[A-ZÁÉÍÓÚÑ].*[A-ZÁÉÍÓÚÑ]")  # PID, SIMD, GnuPG: spelt out, not spoken


def speakable(text: str, alphabet: re.Pattern) -> bool:
    """A message read out as words: letters and punctuation only, 3-14 words, no option names
    (``-a, --all``) and no acronyms."""
    words = text.split()
    return (bool(alphabet.match(text)) and 3 <= len(words) <= 14
            and not any(w.startswith("-") or ACRONYM.search(w) for w in words))


def pairs(domains: Sequence[str]) -> List[Tuple[str, str]]:
    """``(spanish, english)`` of the domains' speakable messages; one pair per Spanish sentence
    (case-insensitive), sorted."""
    missing = [d for d in domains if not (LOCALE / f"{d}.mo").is_file()]
    if missing:
        raise PrepError(f"no Spanish message catalogue {LOCALE}/<domain>.mo for domains {missing}: "
                        "install their Debian packages (with locales kept: no dpkg path-exclude of "
                        "/usr/share/locale)")
    found = {}
    for domain in domains:
        for entry in polib.mofile(str(LOCALE / f"{domain}.mo")):
            if entry.msgid_plural or entry.msgctxt or not entry.msgstr:
                continue
            es = unicodedata.normalize("NFC", " ".join(entry.msgstr.split()))
            en = " ".join(entry.msgid.split())
            if speakable(es, SPANISH) and speakable(en, ENGLISH):
                found.setdefault(es.lower(), (es, en))
    return sorted(found.values())
