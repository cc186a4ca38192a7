"""Tiny stand-ins for the corpora of egs2/fisher_callhome_covost2, in their real on-disk layouts:

- Fisher Spanish: ``LDC2010S01/data/speech/<call>.sph`` (NIST SPHERE, 8 kHz, 2 channels) and
  ``LDC2010T04/fisher_spa_tr/data/transcripts/<call>.tdf`` (UTF-8, tab-separated, a
  ``file;unicode`` header and two ``;;MM`` lines, then file/channel/start/end/speaker/
  speakerType/speakerDialect/transcript/section/turn/segment/sectionType/suType)
- CallHome Spanish: ``LDC96S35/CALLHOME/SPANISH/SPEECH/{TRAIN,DEVTEST,EVLTEST}/<CALL>.SPH`` and
  ``LDC96T17/callhome_spanish_trans_970711/transcrp/{train,devtest,evltest}/<call>.txt``
  (ISO-8859-1, ``<start> <end> <A|B>: <words>``)
- the Fisher-Callhome-corpus: ``mapping/<set>``, ``corpus/ldc/<set>.en`` or ``<set>.en.{0..3}``,
  and ``corpus/ldc/<set>.es`` as its build scripts make it
- Common Voice ``<cv>/clips/*.mp3`` (48 kHz) and CoVoST 2's ``covost_v2.es_en.tsv``

In every recording, channel A holds a 440 Hz tone exactly during A's transcript lines, channel B
a 1000 Hz tone during B's, silence elsewhere: a test can tell sides and segment cuts apart.
``EXPECTED`` holds what the preps must make of it.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 8000
TONE = {"A": 440.0, "B": 1000.0}

# call -> (set, seconds, [(side, start, end, transcript)]) ; line numbers are 1-based positions
FISHER = {
    "20051009_182032_217_fsp": ("fisher_train", 8.0, [
        ("A", 0.50, 1.50, "Hola, ¿qué tal?"),
        ("B", 1.60, 2.40, "bien <laugh> gracias"),
        ("A", 2.50, 3.20, "Y ((tu)) familia"),
        ("A", 3.30, 4.00, "<foreign lang=\"English\"> okay </foreign> [noise]"),
        ("B", 4.10, 4.60, "(( ))"),
        ("B", 4.70, 5.50, "Sí, todos <breath/> bien"),
    ]),
    "20051010_212418_225_fsp": ("fisher_dev", 6.0, [
        ("A", 0.20, 1.00, "Buenos días"),
        ("B", 1.10, 2.00, "¿Cómo está usted?"),
        ("A", 2.10, 3.00, "Muy BIEN."),
    ]),
    "20051017_215732_274_fsp": ("fisher_dev2", 6.0, [
        ("B", 0.30, 1.30, "Mañana llueve"),
        ("A", 1.40, 2.20, "Eso dicen"),
    ]),
    "20051023_232057_325_fsp": ("fisher_test", 6.0, [
        ("A", 0.40, 1.40, "Me gusta el fútbol"),
        ("B", 1.50, 2.50, "A mí también"),
    ]),
}
# set -> [(call, line numbers, English reference 0)]
FISHER_MAPPING = {
    "fisher_train": [
        ("20051009_182032_217_fsp", [1], "Hello, how are you?"),
        ("20051009_182032_217_fsp", [2], "Good (laughs) thanks."),
        ("20051009_182032_217_fsp", [3, 4], "And your family? Okay."),
        ("20051009_182032_217_fsp", [5], "(unintelligible)"),  # no Spanish words: empty_text
        ("20051009_182032_217_fsp", [6], "."),                 # no English words: empty_translation
        ("20051009_182032_217_fsp", [1, 2], "Hello. Fine, thanks."),  # both sides joined
        ("20051111_000000_999_fsp", [1], "No transcript for this call."),  # no_transcript
    ],
    "fisher_dev": [
        ("20051010_212418_225_fsp", [1], "Good morning."),
        ("20051010_212418_225_fsp", [2], "How are you, sir?"),
        ("20051010_212418_225_fsp", [3], "Very well."),
    ],
    "fisher_dev2": [
        ("20051017_215732_274_fsp", [1], "It rains tomorrow."),
        ("20051017_215732_274_fsp", [2], "So they say."),
    ],
    "fisher_test": [
        ("20051023_232057_325_fsp", [1], "I like soccer."),
        ("20051023_232057_325_fsp", [2], "Me too."),
    ],
}
CALLHOME = {  # call -> (set, seconds, lines); None: a line with no timing (counted all the same)
    "sp_0897": ("callhome_devtest", 8.0, [
        None,
        ("A", 0.50, 1.80, "Hola, mamá. {laugh} ¿Qué tal?"),
        ("B", 2.00, 3.00, "Bien. [[habla bajo]] <English okay> ((niño))"),
        ("A", 3.20, 4.00, "[distortion]"),
    ]),
    "sp_1001": ("callhome_train", 6.0, [
        ("B", 0.30, 1.20, "Te llamo mañana, ¿sí?"),
        ("A", 1.30, 2.00, "Claro, adiós."),
    ]),
    "sp_1500": ("callhome_evltest", 6.0, [
        ("A", 0.60, 1.60, "Aquí en Nueva York hace frío."),
    ]),
}
CALLHOME_MAPPING = {
    "callhome_devtest": [("sp_0897", [2], "Hello, mom. How are you?"),
                         ("sp_0897", [3], "Fine. Okay, child."),
                         ("sp_0897", [4], "Static.")],  # [distortion] only: empty_text
    "callhome_train": [("sp_1001", [1], "I'll call you tomorrow, okay?"),
                       ("sp_1001", [2], "Sure, bye.")],
    "callhome_evltest": [("sp_1500", [1], "Here in New York it is cold.")],
}
MULTI_REF = ("fisher_dev", "fisher_dev2", "fisher_test")

EXPECTED = {  # utterance -> (segments value, text, text.eng)
    "fisher_train": {
        "20051009_182032_217_fsp-A-000050-000150": (
            "20051009_182032_217_fsp-A 0.50 1.50", "hola qué tal", "Hello, how are you?"),
        "20051009_182032_217_fsp-B-000160-000240": (
            "20051009_182032_217_fsp-B 1.60 2.40", "bien gracias", "Good thanks."),
        "20051009_182032_217_fsp-A-000250-000400": (
            "20051009_182032_217_fsp-A 2.50 4.00", "y tu familia okay", "And your family? Okay."),
        "20051009_182032_217_fsp-A-000050-000240": (
            "20051009_182032_217_fsp-A 0.50 2.40", "hola qué tal bien gracias", "Hello. Fine, thanks."),
    },
    "fisher_dev": {
        "20051010_212418_225_fsp-A-000020-000100": (
            "20051010_212418_225_fsp-A 0.20 1.00", "buenos días", "Good morning."),
        "20051010_212418_225_fsp-B-000110-000200": (
            "20051010_212418_225_fsp-B 1.10 2.00", "cómo está usted", "How are you, sir?"),
        "20051010_212418_225_fsp-A-000210-000300": (
            "20051010_212418_225_fsp-A 2.10 3.00", "muy bien", "Very well."),
    },
    "callhome_devtest": {
        "sp_0897-A-000050-000180": ("sp_0897-A 0.50 1.80", "hola mamá qué tal", "Hello, mom. How are you?"),
        "sp_0897-B-000200-000300": ("sp_0897-B 2.00 3.00", "bien niño", "Fine. Okay, child."),
    },
}
SKIPPED = {  # set -> {prep_skipped key: reason}
    "fisher_train": {"20051009_182032_217_fsp:5": "empty_text",
                     "20051009_182032_217_fsp:6": "empty_translation",
                     "20051111_000000_999_fsp:1": "no_transcript"},
    "callhome_devtest": {"sp_0897:4": "empty_text"},
}


def _two_channel(seconds: float, lines) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.zeros((len(t), 2))
    for line in lines:
        if line is None:
            continue
        side, start, end, _ = line
        span = (t >= start) & (t < end)
        audio[span, "AB".index(side)] = 0.5 * np.sin(2 * np.pi * TONE[side] * t[span])
    return audio


def _strip_like_post_et_al(text: str) -> str:
    """The corpus's bin/strip_markup.pl, for its corpus/ldc/<set>.es files."""
    import re
    for pattern in (r"[()+*/#]", r"<[^>]*>", r"\{[^}]*\}", r"\[[^\]]*\]"):
        text = re.sub(pattern, "", text)
    return re.sub(r"\s+", " ", text).strip()


def make_fisher_callhome(root: Path, subtype: str = "ULAW") -> dict:
    """Write all four LDC corpora and the translation corpus under ``root``; return their paths."""
    paths = {"fisher_speech": root / "LDC2010S01", "fisher_transcripts": root / "LDC2010T04",
             "callhome_speech": root / "LDC96S35", "callhome_transcripts": root / "LDC96T17",
             "translations": root / "Fisher-Callhome-corpus"}
    speech = paths["fisher_speech"] / "data/speech"
    tdf = paths["fisher_transcripts"] / "fisher_spa_tr/data/transcripts"
    for folder in (speech, tdf):
        folder.mkdir(parents=True)
    header = "\t".join(["file;unicode", "channel;int", "start;float", "end;float", "speaker;unicode",
                        "speakerType;unicode", "speakerDialect;unicode", "transcript;unicode",
                        "section;int", "turn;int", "segment;int", "sectionType;unicode",
                        "suType;unicode"])
    for call, (_, seconds, lines) in FISHER.items():
        sf.write(speech / f"{call}.sph", _two_channel(seconds, lines), RATE, format="NIST", subtype=subtype)
        rows = [header, ";;MM sectionTypes\t[u'report', u'nonreport']",
                f";;MM sectionBoundaries\t[0.0, {seconds}]"]
        for n, (side, start, end, words) in enumerate(lines):
            rows.append("\t".join([f"{call}.sph", str("AB".index(side)), str(start), str(end),
                                   f"spk{side}", "female" if side == "A" else "male", "native",
                                   words, "0", str(n), "0", "report", "statement"]))
        (tdf / f"{call}.tdf").write_text("\n".join(rows) + "\n", encoding="utf-8")

    for call, (name, seconds, lines) in CALLHOME.items():
        part = name.split("_")[1]
        wav_dir = paths["callhome_speech"] / "CALLHOME/SPANISH/SPEECH" / part.upper()
        txt_dir = paths["callhome_transcripts"] / "callhome_spanish_trans_970711/transcrp" / part
        for folder in (wav_dir, txt_dir):
            folder.mkdir(parents=True, exist_ok=True)
        sf.write(wav_dir / f"{call.upper()}.SPH", _two_channel(seconds, lines), RATE,
                 format="NIST", subtype=subtype)
        rows = ["" if line is None else f"{line[1]:.2f} {line[2]:.2f} {line[0]}: {line[3]}"
                for line in lines]
        (txt_dir / f"{call}.txt").write_bytes(("\n".join(rows) + "\n").encode("latin-1"))

    tr = paths["translations"]
    (tr / "mapping").mkdir(parents=True)
    (tr / "corpus/ldc").mkdir(parents=True)
    transcripts = {call: lines for call, (_, _, lines) in {**FISHER, **CALLHOME}.items()}
    for name, rows in {**FISHER_MAPPING, **CALLHOME_MAPPING}.items():
        (tr / "mapping" / name).write_text("".join(f"{c} {'_'.join(map(str, ids))}\n" for c, ids, _ in rows))
        english = [en for _, _, en in rows]
        if name in MULTI_REF:
            for i in range(4):
                refs = english if i == 0 else [f"Ref {i}: {en}" for en in english]
                (tr / "corpus/ldc" / f"{name}.en.{i}").write_text("\n".join(refs) + "\n")
        else:
            (tr / "corpus/ldc" / f"{name}.en").write_text("\n".join(english) + "\n")
        spanish = [" ".join(_strip_like_post_et_al(transcripts[c][i - 1][3]) if c in transcripts else ""
                            for i in ids) for c, ids, _ in rows]
        (tr / "corpus/ldc" / f"{name}.es").write_text("\n".join(spanish) + "\n")
    return paths


def shorten_sphere(path: Path, seconds: float = 1.0) -> None:
    """A SPHERE file whose header says shorten-compressed (the body is not real shorten data:
    no encoder is installable here; the prep decides from the header alone)."""
    head = (f"NIST_1A\n   1024\nchannel_count -i 2\nsample_rate -i {RATE}\nsample_n_bytes -i 1\n"
            f"sample_coding -s26 ulaw,embedded-shorten-v2.00\nsample_count -i {int(seconds * RATE)}\n"
            "end_head\n").encode()
    path.write_bytes(head.ljust(1024, b" ") + b"ajkg" + bytes(200))


# CoVoST 2: (path, sentence, translation, client_id, split); the last two rows are left out
CLIENTS = ("a3f9" * 16, "0bd1" * 16)
COVOST_ROWS = [
    ("common_voice_es_19600001.mp3", "¿Dónde está la estación?", "Where is the station?", CLIENTS[0], "train"),
    ("common_voice_es_19600002.mp3", "Me llamo \"Ana\".", "My name is \"Ana\".", CLIENTS[1], "train_covost"),
    ("common_voice_es_19600003.mp3", "Buenas noches, señor.", "Good night, sir.", CLIENTS[0], "dev"),
    ("common_voice_es_19600004.mp3", "El río es largo.", "The river is long.", CLIENTS[1], "test"),
    ("common_voice_es_19600005.mp3", "No tengo audio.", "I have no audio.", CLIENTS[0], "train"),  # missing mp3
    ("common_voice_es_19600006.mp3", "Sin traducción.", "", CLIENTS[1], "test"),                  # empty translation
]
COVOST_SPLITS = {"train": {"common_voice_es_19600001", "common_voice_es_19600002"},
                 "dev": {"common_voice_es_19600003"}, "test": {"common_voice_es_19600004"}}


def make_covost(root: Path, seconds: float = 1.0) -> dict:
    """Common Voice clips (48 kHz MP3; one of them missing) and covost_v2.es_en.tsv."""
    clips = root / "cv-corpus-4/es/clips"
    clips.mkdir(parents=True)
    t = np.arange(int(seconds * 48000)) / 48000
    for n, (path, *_rest) in enumerate(COVOST_ROWS[:4] + COVOST_ROWS[5:]):
        tone = 0.3 * np.sin(2 * np.pi * (300 + 100 * n) * t)
        sf.write(clips / path, tone, 48000, format="MP3", subtype="MPEG_LAYER_III")
    tsv = root / "covost2/covost_v2.es_en.tsv"
    tsv.parent.mkdir(parents=True)
    rows = [("path", "sentence", "translation", "client_id", "split"), *COVOST_ROWS]
    tsv.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")  # raw quotes
    return {"cv_root": root / "cv-corpus-4/es", "covost_tsv": tsv}


def make_validated_tsv(cv_root: Path, leave_out: str) -> Path:
    """Common Voice's validated.tsv for the CoVoST rows but ``leave_out``, with other sentences
    and client ids than the CoVoST TSV (so a test can tell where they came from)."""
    path = cv_root / "validated.tsv"
    rows = [("client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent")]
    rows += [(f"cv{n:02d}" * 8, clip, f"Validada {n}.", "2", "0", "", "", "")
             for n, (clip, *_rest) in enumerate(COVOST_ROWS) if clip != leave_out]
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path
