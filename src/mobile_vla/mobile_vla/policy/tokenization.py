"""Tokenizers: the pretrained snapshot's, or a word-level one built in code for tiny presets.

The word tokenizer knows the words of every instruction phrasing (``scenarios``)
plus common navigation words; anything else maps to [UNK]. It is saved with the
checkpoint as ``tokenizer.json``, so a checkpoint always carries its vocabulary.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from mobile_vla.scenarios import INSTRUCTIONS

PAD, UNK, BOS, EOS = '[PAD]', '[UNK]', '[BOS]', '[EOS]'
SPECIALS = (PAD, UNK, BOS, EOS)
EXTRA_WORDS = (
    'go drive move turn stop forward back backward backwards straight ahead slowly fast '
    'left right around box boxes cup the a an to of on in at and then side far near '
    'obstacle obstacles reach get pass keep keeping your way take navigate towards toward '
    'please robot it them past behind front between first second mug goal target'
).split()
TOKENIZER_FILE = 'tokenizer.json'


def vocabulary() -> list[str]:
    words = set(EXTRA_WORDS)
    for phrasings in INSTRUCTIONS.values():
        for text in phrasings:
            words.update(re.findall(r"[a-z']+", text.format(obstacle='box').lower()))
            words.update(re.findall(r"[a-z']+", text.format(obstacle='boxes').lower()))
    return list(SPECIALS) + sorted(words)


def build_word_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {word: i for i, word in enumerate(vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tok.post_processor = processors.TemplateProcessing(
        single=f'{BOS} $A {EOS}', special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK,
                                   bos_token=BOS, eos_token=EOS)


class TokenizerFileError(ValueError):
    """A checkpoint's tokenizer.json that cannot be read; the text names the file."""


def load_tokenizer(kind: str, snapshot: str | Path | None = None,
                   folder: str | Path | None = None):
    """The tokenizer of a policy: from a checkpoint folder, the snapshot, or built in code."""
    if folder is not None and (Path(folder) / TOKENIZER_FILE).is_file():
        path = Path(folder) / TOKENIZER_FILE
        try:
            tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), pad_token=PAD,
                                                unk_token=UNK, bos_token=BOS, eos_token=EOS)
        except Exception as exc:  # the tokenizers library raises a bare Exception
            raise TokenizerFileError(f'{path} is not a tokenizer file ({exc}); copy the '
                                     'checkpoint again') from None
        ids = tokenizer.get_vocab().values()
        if ids and (min(ids) < 0 or max(ids) >= len(tokenizer)):
            # The text model's embedding has len(tokenizer) rows: such an id would index
            # past it at the first instruction.
            raise TokenizerFileError(f'{path}: token ids run to {max(ids)} but the vocabulary '
                                     f'has {len(tokenizer)} entries; copy the checkpoint again')
        return tokenizer
    if kind == 'words':
        return build_word_tokenizer()
    if snapshot is None:
        raise ValueError('a snapshot tokenizer needs the snapshot folder')
    return AutoTokenizer.from_pretrained(str(snapshot), local_files_only=True)


def special_ids(tokenizer) -> dict[str, int]:
    return {'pad': tokenizer.pad_token_id, 'bos': tokenizer.bos_token_id,
            'eos': tokenizer.eos_token_id, 'vocab': len(tokenizer)}
