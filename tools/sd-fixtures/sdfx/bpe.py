"""A small CLIP-format byte-level BPE vocabulary and a reference CLIP tokenizer.

Vocabulary layout (OpenAI CLIP simple_tokenizer, kept by transformers' CLIPTokenizer):
  ids 0..255     the 256 byte symbols of bytes_to_unicode(), in its order ("!" is id 0)
  ids 256..511   the same symbols with the end-of-word suffix "</w>"
  ids 512..      one token per merge, in merge order (the merged pair joined)
  last two ids   "<|startoftext|>", "<|endoftext|>"
Our merges are learned (greedy BPE, most frequent pair first, ties by the pair's text) from WORDS,
until every word is one token; so "a photo of a cat" tokenizes to whole-word ids, while words
outside WORDS fall back to smaller pieces, down to single bytes (there is never an unknown token).

The tokenizer reproduces transformers' slow CLIPTokenizer without ftfy (BasicTokenizer clean-up:
control characters dropped, whitespace collapsed, NFC, lower case), its pre-tokenizer regex
(written out here with unicodedata because Debian's python3 has no `regex` module), BPE with
"</w>" on the last symbol of each word, then `padding="max_length", max_length=77, truncation=True`:
[bos] + first 75 ids + [eos], right-padded with the pad token.
"""
import json
import unicodedata

# Common prompt words. Order does not matter (merges are learned from counts), but changing the
# list changes every id after 511, so treat it as part of the fixture format.
WORDS = sorted(set("""
a an the of at in on with and by for to from under over near is
photo photograph picture painting portrait drawing sketch render illustration
cat cats dog dogs horse bird fish fox owl lion tiger
lighthouse house castle city street forest mountain mountains river lake sea ocean beach island
dusk dawn sunset sunrise night morning evening sky clouds rain snow storm fog
red blue green yellow orange purple black white golden silver
old small big tall tiny beautiful detailed highly realistic cinematic dramatic soft warm cold
light lighting shadow shadows moon sun stars
astronaut riding mars space planet robot
oil watercolor digital art style artstation trending quality high resolution
""".split()))

SPECIALS = ("<|startoftext|>", "<|endoftext|>")
MAX_LENGTH = 77


def bytes_to_unicode():
    """Reversible byte -> printable unicode map of GPT-2 / CLIP (printable bytes map to themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _word_symbols(word):
    enc = bytes_to_unicode()
    chars = [enc[b] for b in word.encode("utf-8")]
    return tuple(chars[:-1]) + (chars[-1] + "</w>",)


def learn_merges(words=WORDS):
    """Greedy BPE over `words` (each counted once) until every word is a single symbol."""
    corpus = {w: _word_symbols(w) for w in words}
    merges = []
    while True:
        counts = {}
        for symbols in corpus.values():
            for pair in zip(symbols, symbols[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return merges
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        first, second = best
        for w, symbols in corpus.items():
            out, i = [], 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == first and symbols[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            corpus[w] = tuple(out)


def build_vocab(merges):
    base = list(bytes_to_unicode().values())
    tokens = base + [v + "</w>" for v in base] + ["".join(m) for m in merges] + list(SPECIALS)
    vocab = {}
    for t in tokens:
        if t in vocab:
            raise ValueError(f"duplicate token {t!r}")
        vocab[t] = len(vocab)
    return vocab


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def pre_tokenize(text):
    """re.findall of CLIP's pattern
    <\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+
    (IGNORECASE), written as a scanner: alternatives are tried in that order at each position."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        special = next((s for s in SPECIALS if text.startswith(s, i)), None)
        if special:
            out.append(special)
            i += len(special)
            continue
        low = text[i:i + 3].lower()
        contraction = next((c for c in _CONTRACTIONS if low.startswith(c)), None)
        if contraction:
            out.append(text[i:i + len(contraction)])
            i += len(contraction)
            continue
        j = i
        if _is_letter(ch):
            while j < n and _is_letter(text[j]):
                j += 1
        elif _is_number(ch):
            j = i + 1
        else:
            while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
                j += 1
        out.append(text[i:j])
        i = j
    return out


def basic_clean(text):
    """transformers BasicTokenizer(strip_accents=False, do_split_on_punc=False), joined by spaces."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        cleaned.append(" " if ch in "\t\n\r" or unicodedata.category(ch) == "Zs" else ch)
    text = "".join(cleaned)
    spaced = []
    for ch in text:
        cp = ord(ch)
        cjk = (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
               or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
               or 0x2F800 <= cp <= 0x2FA1F)
        spaced.append(f" {ch} " if cjk else ch)
    text = unicodedata.normalize("NFC", "".join(spaced))
    return " ".join(t.lower() for t in text.split())


class ClipTokenizer:
    def __init__(self, vocab, merges, pad_token):
        self.encoder = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.bos_id = vocab[SPECIALS[0]]
        self.eos_id = vocab[SPECIALS[1]]
        self.pad_id = vocab[pad_token]

    def bpe(self, token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return list(word)

    def tokenize(self, text):
        ids = []
        for piece in pre_tokenize(basic_clean(text)):
            if piece in SPECIALS:
                ids.append(self.encoder[piece])
                continue
            symbols = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(symbols))
        return ids

    def __call__(self, text):
        """input_ids as the pipelines request them: padding="max_length", max_length=77, truncation=True."""
        ids = [self.bos_id] + self.tokenize(text)[:MAX_LENGTH - 2] + [self.eos_id]
        return ids + [self.pad_id] * (MAX_LENGTH - len(ids))


def write_tokenizer(folder, vocab, merges, pad_token):
    """vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json as transformers'
    CLIPTokenizer.save_pretrained writes them (save_vocabulary: sorted keys, indent 2; merges after
    a "#version: 0.2" line)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    bos, eos = SPECIALS

    def added(content, normalized):
        return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False,
                "single_word": False, "special": True}

    decoder = {}
    if pad_token not in SPECIALS:
        decoder[str(vocab[pad_token])] = added(pad_token, False)
    decoder[str(vocab[bos])] = added(bos, True)
    decoder[str(vocab[eos])] = added(eos, False)
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "bos_token": bos,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": eos,
        "errors": "replace",
        "model_max_length": MAX_LENGTH,
        "pad_token": pad_token,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": eos,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    def special(content):
        return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}

    specials = {"bos_token": special(bos), "eos_token": special(eos),
                "pad_token": pad_token, "unk_token": special(eos)}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2, sort_keys=True) + "\n")
