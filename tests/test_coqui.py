"""Coqui TTS backend (talkinghead.speech.coqui) with tiny randomly initialised VITS models.

No pretrained Coqui model can be downloaded here (and the backend never downloads), so the
tests build small VITS models (~1.5 M parameters) from a config, save them the way Coqui does
(``{"model": state_dict}`` + ``config.json``) and load them through :class:`CoquiSpeaker`. The
audio of a random model is noise, but the durations, the token -> phoneme mapping and the
timeline are real.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import numpy as np
import pytest

from talkinghead.errors import DependencyError, VoiceError
from talkinghead.speech.phonemize import phonemize_words
from talkinghead.speech.types import SILENCE

HAVE_TTS = importlib.util.find_spec("TTS") is not None
needs_tts = pytest.mark.skipif(
    not HAVE_TTS, reason="Coqui TTS not installed (optional extra, see talkinghead/speech/coqui.py)"
)
pytestmark = pytest.mark.coqui
TEXT = "Bob bought a map of Maple Park. And Pam made a pie!"


def _build_vits(folder, use_phonemes: bool):
    """Save a tiny random VITS (characters or IPA phonemes) to ``folder``; return the folder."""
    import torch
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    from talkinghead.speech.coqui import _PHONEMIZER_NAME, _register_phonemizer

    torch.manual_seed(0)
    args = VitsArgs(
        hidden_channels=32, hidden_channels_ffn_text_encoder=64, num_layers_text_encoder=2,
        num_layers_posterior_encoder=2, num_layers_flow=2, upsample_initial_channel_decoder=32,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        spec_segment_size=16, init_discriminator=False,
    )
    if use_phonemes:
        _register_phonemizer()  # building needs a phonemizer; no system espeak here
    cfg = VitsConfig(
        model_args=args, use_phonemes=use_phonemes, phoneme_language="en-us",
        phonemizer=_PHONEMIZER_NAME if use_phonemes else None,
        text_cleaner="phoneme_cleaners" if use_phonemes else "english_cleaners",
    )
    model = Vits(cfg)
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    folder.mkdir(parents=True, exist_ok=True)
    if use_phonemes:
        cfg.phonemizer = "espeak"  # as a real Coqui model's config says
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    cfg.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    return _build_vits(tmp_path_factory.mktemp("coqui") / "chars", use_phonemes=False)


@pytest.fixture(scope="module")
def phoneme_model(tmp_path_factory):
    return _build_vits(tmp_path_factory.mktemp("coqui") / "phonemes", use_phonemes=True)


def _check_speech(speech):
    assert speech.backend == "coqui"
    assert speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert speech.duration > 0.5 and np.all(np.isfinite(speech.audio))
    assert np.abs(speech.audio).max() <= 1.0 and np.abs(speech.audio).std() > 0
    speech.check_tiling()
    # frames * hop_length / sample_rate must be the audio length: scale 1 (within rounding)
    lo, hi = speech.info["duration_scale"]
    assert 0.98 < lo <= hi < 1.02
    for w0, w1 in zip(speech.words, speech.words[1:]):
        assert w0.start < w0.end <= w1.start + 1e-9


@needs_tts
@pytest.mark.slow
def test_phoneme_vits_timeline_is_the_ipa_it_was_fed(phoneme_model):
    from talkinghead.speech.coqui import CoquiSpeaker

    speech = CoquiSpeaker(phoneme_model).speak(TEXT)
    _check_speech(speech)
    assert speech.info["timeline"] == "phonemes"
    want = [p for w in phonemize_words(TEXT) for p in w.phones]
    got = [p.symbol for p in speech.phonemes if p.symbol != SILENCE]
    assert got == want
    assert [w.text for w in speech.words] == TEXT.split()
    assert speech.phonemes[-1].symbol == SILENCE  # the final "!"


@needs_tts
@pytest.mark.slow
def test_character_vits_maps_letters_to_phonemes(char_model):
    from talkinghead.speech.coqui import CoquiSpeaker

    speech = CoquiSpeaker(char_model / "model.pth", config_path=char_model / "config.json").speak(
        "Bob bought a map. [pause 0.4s] Pam made a pie."
    )
    _check_speech(speech)
    assert speech.info["timeline"] == "characters"
    syms = [p.symbol for p in speech.phonemes]
    assert syms[:3] == ["b", "ɑː", "b"]  # letters of "bob" -> espeak phonemes
    assert [w.text for w in speech.words] == ["bob", "bought", "a", "map", "pam", "made", "a", "pie"]
    pause = [p for p in speech.phonemes if p.symbol == SILENCE and p.duration >= 0.39]
    assert pause, "the [pause 0.4s] must be a silence of the timeline"


@needs_tts
def test_model_lookup_never_downloads(tmp_path, monkeypatch, char_model):
    from talkinghead.speech.coqui import coqui_cache_dir, resolve_model

    monkeypatch.setenv("TTS_HOME", str(tmp_path / "home"))
    with pytest.raises(VoiceError, match="local cache"):
        resolve_model("tts_models/en/ljspeech/vits")
    with pytest.raises(VoiceError, match="does not exist"):
        resolve_model(tmp_path / "nope.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VoiceError, match="checkpoint"):
        resolve_model(empty)
    cached = coqui_cache_dir() / "tts_models--en--test--vits"
    shutil.copytree(char_model, cached)
    ckpt, cfg = resolve_model("tts_models/en/test/vits")
    assert ckpt == cached / "model.pth" and cfg == cached / "config.json"


def test_missing_package_is_a_dependency_error(monkeypatch):
    from talkinghead.speech import coqui

    monkeypatch.setitem(sys.modules, "TTS", None)
    with pytest.raises(DependencyError, match="pip install"):
        coqui.CoquiSpeaker("whatever")
