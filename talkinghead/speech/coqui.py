"""Coqui TTS backend (optional extra): a local Coqui model -> audio + phoneme timeline.

Install the extra with ``pip install 'talkinghead[coqui]'`` or, into an existing environment::

    pip install 'coqui-tts[codec]==0.28.0' six torchaudio==2.11.0 torch==2.11.0 'numpy<2' \\
        'protobuf<5' opencv-contrib-python==4.11.0.86 mediapipe==0.10.21

The repeated pins keep the stack unchanged: alone, ``coqui-tts`` pulls tensorboard, which would
upgrade protobuf to 7.x (mediapipe needs <5). ``import TTS`` also needs ``torchaudio`` and
``torchcodec`` beside torch >= 2.9, and ``six``.

Models are loaded only from disk, never downloaded: ``model_path`` is a checkpoint file (with
``config.json`` beside it or ``config_path``), a folder holding both, or a Coqui model name
(``"tts_models/en/ljspeech/vits"``) looked up in Coqui's own model cache
(``$TTS_HOME``, ``$XDG_DATA_HOME`` or ``~/.local/share/tts``, folder
``tts_models--en--ljspeech--vits``) where an earlier ``tts`` run left it.

Timing:

- VITS-family models (VITS, YourTTS: Coqui class ``Vits``) predict a duration for every input
  token; ``Vits.inference`` returns them (decoder frames, ``durations``) and each frame is
  ``config.audio.hop_length`` output samples, so the timeline comes straight from the model and is
  rescaled to tile the audio exactly. Blank tokens (``add_blank``) give half their duration to
  each neighbour.

  * Phoneme models (``use_phonemes``): we phonemize the text ourselves
    (:mod:`.phonemize`, espeak-ng from ``espeakng-loader``; Coqui's own espeak backend would need
    a system espeak) and feed the IPA to the model, so the tokens *are* the timeline's IPA
    symbols (stress merged into the next phoneme, ``ː`` into the previous, as for Piper).
  * Character models: the tokens are letters. Each word's duration (sum of its letters') comes
    from the model; the word's phonemes (espeak, :mod:`.phonemize`) share it in proportion to
    the letters: this is marked ``info["timeline"] = "characters"``.

- Other architectures (Tacotron 2, Glow-TTS + vocoder, XTTS...) have no per-token durations we
  can read reliably: their audio is aligned to the text with
  :func:`talkinghead.speech.recorded.align_recording` (``info["timeline"] = "aligned"``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import DependencyError, ScriptError, VoiceError
from .phonemize import WordPhonemes, phonemize_words, piper_phonemes, split_phones
from .script import parse_script, script_text
from .types import SILENCE, Speech, WordInterval, timeline_from_durations

_LOG = logging.getLogger(__name__)

INSTALL = (
    "pip install 'coqui-tts[codec]==0.28.0' six torchaudio==2.11.0 torch==2.11.0 'numpy<2' "
    "'protobuf<5' opencv-contrib-python==4.11.0.86 mediapipe==0.10.21"
)
_CHECKPOINT_NAMES = ("model.pth", "best_model.pth", "model_file.pth", "checkpoint.pth", "model.pt")
_PHONEMIZER_NAME = "talkinghead_espeak"


def _import_tts():
    try:
        import TTS  # noqa: F401
        from TTS.config import load_config  # noqa: F401
    except ImportError as exc:
        raise DependencyError(f"Coqui TTS is not installed ({exc}); install it with: {INSTALL}") from None


def coqui_cache_dir() -> Path:
    """Coqui's model cache folder (``$TTS_HOME``/``$XDG_DATA_HOME``/``~/.local/share``) + ``tts``."""
    base = os.environ.get("TTS_HOME") or os.environ.get("XDG_DATA_HOME")
    if base:
        return Path(base).expanduser() / "tts"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "tts"
    return Path.home() / ".local" / "share" / "tts"


def resolve_model(model_path: str | Path, config_path: str | Path | None = None) -> tuple[Path, Path]:
    """Return ``(checkpoint, config)`` for a checkpoint file, a model folder or a model name.

    Raises:
        VoiceError: nothing usable at that path / in the cache (the message names where it looked).
    """
    p = Path(model_path).expanduser()
    if not p.exists() and "/" in str(model_path) and not Path(str(model_path)).is_absolute():
        cached = coqui_cache_dir() / str(model_path).strip("/").replace("/", "--")
        if not cached.exists():
            raise VoiceError(
                f"Coqui model {str(model_path)!r} is neither a file nor in the local cache ({cached}); "
                "models are never downloaded: give the path of a downloaded model"
            )
        p = cached
    if not p.exists():
        raise VoiceError(f"Coqui model {p} does not exist")
    if p.is_dir():
        ckpt = next((p / n for n in _CHECKPOINT_NAMES if (p / n).is_file()), None)
        if ckpt is None:
            found = sorted(p.glob("*.pth"))
            if not found:
                raise VoiceError(f"no Coqui checkpoint (*.pth) in {p}")
            ckpt = found[0]
    else:
        ckpt = p
    cfg = Path(config_path).expanduser() if config_path else ckpt.parent / "config.json"
    if not cfg.is_file():
        raise VoiceError(f"Coqui model config {cfg} does not exist (give config_path)")
    return ckpt, cfg


def _register_phonemizer() -> None:
    """Make our espeak-ng (espeakng-loader) available to Coqui as a phonemizer named
    ``talkinghead_espeak``, so phoneme models load without a system espeak."""
    from TTS.tts.utils.text import phonemizers as ph
    from TTS.tts.utils.text.phonemizers.base import BasePhonemizer

    if _PHONEMIZER_NAME in ph.PHONEMIZERS:
        return

    class TalkingHeadEspeak(BasePhonemizer):
        def __init__(self, language: str = "en-us", punctuations=None, keep_puncs: bool = True):
            kw = {"keep_puncs": keep_puncs}
            if punctuations is not None:
                kw["punctuations"] = punctuations
            super().__init__(language, **kw)

        @staticmethod
        def name() -> str:
            return _PHONEMIZER_NAME

        @classmethod
        def is_available(cls) -> bool:
            return True

        def version(self) -> str:
            return "espeakng-loader"

        @staticmethod
        def supported_languages() -> dict:
            from .phonemize import supported_languages

            return supported_languages()

        def _phonemize(self, text: str, separator: str = "") -> str:
            words = phonemize_words(text, self.language) if text.strip() else []
            return " ".join(w.ipa for w in words)

    ph._register_phonemizers()
    ph.PHONEMIZERS[_PHONEMIZER_NAME] = TalkingHeadEspeak


class CoquiSpeaker:
    """Speak text with a local Coqui TTS model.

    Args:
        model_path: checkpoint file, model folder, or Coqui model name found in the local cache.
        config_path: the model's ``config.json`` (default: beside the checkpoint).
        speaker: speaker name of a multi-speaker model (default: the first).
        language: language of a multilingual model, and espeak language for phonemization
            (default: the config's ``phoneme_language``, else ``en-us``).

    Raises:
        DependencyError: Coqui TTS not installed. VoiceError: model missing or not loadable.

    Example:
        >>> speech = CoquiSpeaker("~/models/my_vits").speak("Hello there.")  # doctest: +SKIP
    """

    def __init__(self, model_path, config_path=None, speaker: str | None = None,
                 language: str | None = None, device: str = "cpu") -> None:
        _import_tts()
        import torch
        from TTS.config import load_config
        from TTS.tts.models import setup_model

        self.model_path, self.config_path = resolve_model(model_path, config_path)
        try:
            config = load_config(str(self.config_path))
        except Exception as exc:  # noqa: BLE001 - any parse error means "not a Coqui config"
            raise VoiceError(f"cannot read Coqui config {self.config_path}: {exc}") from None
        self.uses_phonemes = bool(config.get("use_phonemes", False))
        if self.uses_phonemes and config.get("phonemizer") in (None, "", "espeak", "espeak-ng"):
            _register_phonemizer()
            config.phonemizer = _PHONEMIZER_NAME
        try:
            model = setup_model(config)
            model.load_checkpoint(config, str(self.model_path), eval=True)
        except Exception as exc:  # noqa: BLE001 - wrong architecture/shape/corrupt file
            raise VoiceError(f"cannot load Coqui model {self.model_path}: {exc}") from None
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.config = config
        self.language = language or config.get("phoneme_language") or "en-us"
        self.sample_rate = int(config.audio.get("output_sample_rate") or config.audio.sample_rate)
        self.hop_length = int(config.audio.hop_length)
        self.name = self.model_path.parent.name if self.model_path.parent.name else self.model_path.stem
        self._aux = self._aux_input(speaker, language)

    # ---- setup -----------------------------------------------------------------------------
    def _aux_input(self, speaker, language) -> dict:
        import torch

        aux: dict = {"d_vectors": None, "speaker_ids": None, "language_ids": None}
        sm = getattr(self.model, "speaker_manager", None)
        if sm is not None and getattr(sm, "name_to_id", None):
            names = list(sm.name_to_id)
            if speaker is None:
                speaker = names[0]
            if speaker not in sm.name_to_id:
                raise VoiceError(f"unknown speaker {speaker!r} for {self.name}: {', '.join(names[:10])}")
            aux["speaker_ids"] = torch.tensor([sm.name_to_id[speaker]], device=self.device)
        elif speaker is not None:
            raise VoiceError(f"model {self.name} has a single speaker; do not give a speaker")
        lm = getattr(self.model, "language_manager", None)
        if lm is not None and getattr(lm, "name_to_id", None) and language is not None:
            if language not in lm.name_to_id:
                raise VoiceError(f"unknown language {language!r} for {self.name}: {', '.join(lm.name_to_id)}")
            aux["language_ids"] = torch.tensor([lm.name_to_id[language]], device=self.device)
        return aux

    @property
    def has_durations(self) -> bool:
        """True for models whose inference returns per-token durations (VITS family)."""
        from TTS.tts.models.vits import Vits

        return isinstance(self.model, Vits)

    # ---- synthesis -------------------------------------------------------------------------
    def speak(self, text: str) -> Speech:
        """Speak a script (same markup as Piper: paragraphs and ``[pause 0.5s]``).

        Raises:
            ScriptError: empty script, or nothing the model can pronounce.
        """
        parts = parse_script(text)
        full = script_text(parts)
        if not self.has_durations:
            return self._speak_aligned(parts, full)
        pieces: list[tuple[np.ndarray, list[tuple[str, float]], list[WordInterval]]] = []
        for part in parts:
            if not part.text:
                pause = part.pause if not part.paragraph_break else 0.7
                if pause <= 0:
                    continue
                pieces.append((np.zeros(int(round(pause * self.sample_rate)), np.float32),
                               [(SILENCE, pause)], []))
                continue
            for sentence in _sentences(part.text):
                pieces.append(self._speak_sentence(sentence))
        return self._assemble(pieces, full)

    def _speak_sentence(self, sentence: str):
        """One sentence -> (audio, [(symbol, seconds)], words with sentence-relative times)."""
        import torch

        tok = self.model.tokenizer
        if self.uses_phonemes:
            words = phonemize_words(sentence, self.language)
            toks = piper_phonemes(words)  # IPA code points, " " between words, punctuation
            ids = tok.encode("".join(toks))
        else:
            cleaned = tok.text_cleaner(sentence) if tok.text_cleaner is not None else sentence
            ids = tok.encode(cleaned)
        if not ids:
            raise ScriptError(f"the model can pronounce nothing in {sentence!r}")
        if tok.add_blank:
            ids = tok.intersperse_blank_char(ids)
        if tok.use_eos_bos:
            ids = tok.pad_with_bos_eos(ids)
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        aux = dict(self._aux, x_lengths=torch.tensor([len(ids)], device=self.device))
        with torch.inference_mode():
            out = self.model.inference(x, aux_input=aux)
        audio = out["model_outputs"].reshape(-1).float().cpu().numpy()
        frames = out["durations"].reshape(-1).float().cpu().numpy()
        if len(frames) != len(ids):
            raise VoiceError(f"model {self.name} returned {len(frames)} durations for {len(ids)} tokens")
        seconds = frames * self.hop_length / self.sample_rate
        chars = [tok.characters.id_to_char(i) for i in ids]
        symbols_durs = _fold_special(chars, seconds, tok)
        if self.uses_phonemes:
            timed, words = _phoneme_timeline(symbols_durs, words)
        else:
            timed, words = _character_timeline(symbols_durs, self.language)
        return audio.astype(np.float32), timed, words

    def _assemble(self, pieces, text: str) -> Speech:
        audio_parts, symbols, durs, words = [], [], [], []
        t = 0.0
        scales = []
        for audio, timed, wl in pieces:
            if not len(audio):
                continue
            piece_len = len(audio) / self.sample_rate
            scale = piece_len / max(sum(d for _, d in timed), 1e-9)  # model frames -> real length
            scales.append(scale)
            for s, d in timed:
                symbols.append(s)
                durs.append(d * scale)
            words += [WordInterval(w.text, t + w.start * scale, t + w.end * scale) for w in wl]
            audio_parts.append(audio)
            t += piece_len
        if not audio_parts:
            raise ScriptError("the script has nothing to speak")
        audio = np.concatenate(audio_parts)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1.0:
            audio = audio / peak
        total = len(audio) / self.sample_rate
        phonemes = timeline_from_durations(symbols, durs, total)
        speech = Speech(audio=audio.astype(np.float32), sample_rate=self.sample_rate,
                        phonemes=phonemes, words=words, text=text, backend="coqui",
                        info={"model": str(self.model_path), "timeline":
                              "phonemes" if self.uses_phonemes else "characters",
                              # audio length / sum of the model's durations (1.0 = exact)
                              "duration_scale": [round(min(scales), 4), round(max(scales), 4)]})
        speech.check_tiling()
        return speech

    def _speak_aligned(self, parts, text: str) -> Speech:
        """Models without readable durations: synthesize, then align the audio to the text."""
        import torch

        from .recorded import align_recording

        from TTS.utils.synthesizer import Synthesizer

        try:
            syn = Synthesizer(tts_checkpoint=str(self.model_path), tts_config_path=str(self.config_path),
                              use_cuda=self.device.type == "cuda")
            wav = syn.tts(" ".join(p.text for p in parts if p.text))
        except Exception as exc:  # noqa: BLE001 - whatever the architecture raises
            raise VoiceError(f"Coqui model {self.model_path} failed to synthesize: {exc}") from None
        audio = np.asarray(wav.cpu() if isinstance(wav, torch.Tensor) else wav, dtype=np.float32).reshape(-1)
        speech = align_recording((audio, self.sample_rate), text, method="auto", language=self.language)
        speech.backend = "coqui"
        speech.info = {"model": str(self.model_path), "timeline": "aligned", **speech.info}
        return speech


def _sentences(text: str) -> list[str]:
    import re

    return [s for s in re.split(r"(?<=[.!?;:])\s+", text.strip()) if s.strip()]


def _fold_special(chars: list[str], seconds: np.ndarray, tok) -> list[tuple[str, float]]:
    """Drop blank tokens (half their duration to each neighbour) and turn BOS/EOS/pad into
    SILENCE; returns ``(token_char, seconds)``."""
    ch = tok.characters
    blank = getattr(ch, "blank", None)
    silent = {getattr(ch, "bos", None), getattr(ch, "eos", None), getattr(ch, "pad", None)} - {None}
    out: list[list] = []
    carry = 0.0
    for c, d in zip(chars, seconds):
        d = float(d)
        if blank is not None and c == blank:
            if out:
                out[-1][1] += d / 2
                carry += d / 2
            else:
                carry += d
            continue
        out.append([SILENCE if c in silent else c, d + carry])
        carry = 0.0
    if carry and out:
        out[-1][1] += carry
    return [(c, d) for c, d in out]


def _is_punct(c: str) -> bool:
    import unicodedata

    return c != " " and (unicodedata.category(c)[0] in "PSZ" or c in "—–…")


def _phoneme_timeline(tokens: list[tuple[str, float]], words: list[WordPhonemes]):
    """IPA tokens -> timeline symbols (stress to the next phoneme, ``ː``/diacritics to the
    previous, punctuation -> SILENCE, a word space split between neighbours) and word times."""
    import unicodedata

    syms: list[list] = []  # [symbol, seconds, word index]
    carry, word, in_word = 0.0, -1, False
    for c, d in tokens:
        if c == SILENCE or _is_punct(c):
            syms.append([SILENCE, d + carry, -1])
            carry, in_word = 0.0, False
        elif c == " ":
            if syms:
                syms[-1][1] += d / 2
            carry += d / 2
            in_word = False
        elif c in "ˈˌ":
            carry += d
        elif (c in "ːˑ" or unicodedata.category(c) in ("Mn", "Lm")) and syms and syms[-1][0] != SILENCE:
            syms[-1][0] += c
            syms[-1][1] += d + carry
            carry = 0.0
        else:
            if not in_word:
                word += 1
                in_word = True
            syms.append([c, d + carry, word])
            carry = 0.0
    if carry:
        syms.append([SILENCE, carry, -1])
    edges = np.concatenate([[0.0], np.cumsum([s[1] for s in syms])])
    wl: list[WordInterval] = []
    groups = [len(w.ipa.split()) for w in words]
    if sum(groups) == word + 1:
        g = 0
        for w, n in zip(words, groups):
            idx = [i for i, s in enumerate(syms) if g <= s[2] < g + n]
            g += n
            if idx:
                wl.append(WordInterval(w.text, float(edges[idx[0]]), float(edges[idx[-1] + 1])))
    return [(s[0], s[1]) for s in syms], wl


def _character_timeline(tokens: list[tuple[str, float]], language: str):
    """Letter tokens -> per word: the word's duration (sum of its letters', with half of each
    neighbouring space) shared equally by its espeak phonemes; punctuation and BOS/EOS ->
    SILENCE. Returns ``([(symbol, seconds)], words)``."""
    items: list[list] = []  # [kind, text, seconds]; kind "w" word, "s" silence
    carry = 0.0
    for c, d in tokens:
        if c == SILENCE or _is_punct(c):
            items.append(["s", "", d + carry])
            carry = 0.0
        elif c == " ":
            if items:
                items[-1][2] += d / 2
                carry += d / 2
            else:
                carry += d
        elif items and items[-1][0] == "w" and carry == 0.0:
            items[-1][1] += c
            items[-1][2] += d
        else:
            items.append(["w", c, d + carry])
            carry = 0.0
    if carry and items:
        items[-1][2] += carry
    texts = [it[1] for it in items if it[0] == "w"]
    prons: dict[int, list[str]] = {}
    if texts:
        try:
            ph = phonemize_words(" ".join(texts), language)
            if len(ph) == len(texts):
                prons = {k: p.phones for k, p in enumerate(ph)}
        except ScriptError:
            prons = {}
    timed: list[tuple[str, float]] = []
    wl: list[WordInterval] = []
    t, k = 0.0, 0
    for kind, txt, d in items:
        if kind == "s":
            timed.append((SILENCE, d))
        else:
            phones = prons.get(k) or split_phones(txt) or [SILENCE]
            k += 1
            timed += [(p, d / len(phones)) for p in phones]
            wl.append(WordInterval(txt, t, t + d))
        t += d
    return timed, wl
