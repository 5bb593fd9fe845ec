"""Writes slow-reference-tiny-sd15.json: token ids of awkward prompts (CJK, control and format
characters, odd spaces, accents, specials) from tools/sd-fixtures' Python re-implementation of the
slow CLIPTokenizer (BasicTokenizer cleanup, no ftfy), over test/fixtures/pipelines/tiny-sd15's
vocabulary. An implementation independent of ours, so the ids are ground truth for `basic` cleanup.
Run from the repository root with /usr/bin/python3 libs/text/src/test-fixtures/make-slow-reference.py
"""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "sd-fixtures"))
from sdfx.bpe import ClipTokenizer  # noqa: E402

FOLDER = os.path.join(ROOT, "test", "fixtures", "pipelines", "tiny-sd15", "tokenizer")
PROMPTS = [
    "日本の猫 at dusk",
    "a cat\u200bdog\u0007 in\u00a0the\u3000forest",
    "Ünïcödé CAFÉ café naïve",
    "tabs\tand\nnewlines\r\nhere",
    "ねこ と いぬ",
    "hello, world! it's 2024... (ok?) #tag @me",
    "a red fox & a white owl",
    "a photo of a cat<|endoftext|>dog",
    "x\ufffdy\u0000z",
    "\U00020000 emoji \U0001f431\U0001f98a ok",
]

with open(os.path.join(FOLDER, "vocab.json"), encoding="utf-8") as f:
    vocab = json.load(f)
with open(os.path.join(FOLDER, "merges.txt"), encoding="utf-8") as f:
    merges = [tuple(line.split()) for line in f.read().strip().split("\n")[1:]]
tokenizer = ClipTokenizer(vocab, merges, "<|endoftext|>")
out = {
    "about": "ids from tools/sd-fixtures/sdfx/bpe.py (slow CLIPTokenizer re-implementation) over tiny-sd15's vocabulary; regenerate with make-slow-reference.py",
    "prompts": PROMPTS,
    "input_ids": [tokenizer(p) for p in PROMPTS],
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow-reference-tiny-sd15.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=True)
    f.write("\n")
