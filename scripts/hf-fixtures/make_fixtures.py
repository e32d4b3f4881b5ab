#!/usr/bin/env python3
"""Builds fedlora's Hugging Face golden fixtures (run once; the outputs are committed, CI has no Python).

For each family/variant it writes a tiny random model directory as HF saves it (config.json, model.safetensors or
shards, tokenizer.json), plus fixture.json with input ids, the logits HF computes, HF's loss, and the loss and LoRA
gradients with a PEFT adapter (saved next to it as adapter/). Tokenizer parity data (texts and HF's ids) go to
tokenizers/<kind>.json.

    python scripts/hf-fixtures/make_fixtures.py [--out client-agent/src/test/resources/hf-fixtures]

Needs torch, transformers, peft, tokenizers, safetensors. Deterministic from the seeds below.
"""
import argparse
import json
import os
import shutil

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM)
from peft import LoraConfig, get_peft_model

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "The quick brown fox jumps over the lazy dog. Federated learning keeps the data where it is.",
    "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(i, add(i, 2))\n",
    "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade, \u00fcber-stra\u00dfe, se\u00f1or.",
    "Low-rank adapters (LoRA) add B @ A to a frozen weight W; FedEx folds the residual into W.",
    "\u6a5f\u68b0\u5b66\u7fd2\u306f\u9762\u767d\u3044\u3002\u8054\u90a6\u5b66\u4e60\u4fdd\u62a4\u9690\u79c1\u3002",
    "Numbers: 12345 3.14159 2026-12-02 0x1F $99.99 100%",
    "   leading spaces, trailing spaces   \ttabs\t\tand\n\nnewlines\r\n",
    "Emoji \U0001F600 \U0001F680 \u2764\ufe0f and symbols \u2192 \u2211 \u221e",
] * 20

PARITY_TEXTS = [
    "Hello world",
    " Hello  world ",
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x ** 2  # square\n",
    "if (a != b) { return a->c[i]; }",
    "    four leading spaces",
    "trailing spaces    ",
    "tabs\tand\t\ttabs",
    "line\nbreaks\r\nand\n\n\nmore",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber",
    "e\u0301 combining accent",
    "\u6a5f\u68b0\u5b66\u7fd2\u3068\u8054\u90a6\u5b66\u4e60",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "Emoji \U0001F600\U0001F680 family \U0001F468\u200d\U0001F469\u200d\U0001F467",
    "I'm sure they'll say it's John's, we've seen I'd",
    "NUMBERS 1234567890 3.14 -42",
    "UPPER lower MiXeD",
    "a" * 40,
    "",
    " ",
    "\n",
    "mixed \u00e9\U0001F600\u6a5f end",
    "<s> looks special but is text",
    "symbols ~!@#$%^&*()_+-=[]{}|;:'\",.<>/?",
    "x\u00a0non-breaking\u2003em-space",
]


def byte_level_bpe(regex_pattern=None, vocab_size=420):
    """GPT-2 style (ByteLevel pre-tokenizer with its own regex) or Llama 3 / Qwen2 style (Split regex + ByteLevel)."""
    tok = Tokenizer(models.BPE())
    if regex_pattern is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        special = ["<|endoftext|>"]
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex_pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
        special = ["<|begin_of_text|>", "<|end_of_text|>"]
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if regex_pattern is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                                           special_tokens=[("<|begin_of_text|>", bos)])
    return tok


def sentencepiece_bpe(vocab_size=420):
    """Llama 2 / Mistral / TinyLlama style: ▁ for spaces, a prepended ▁, byte fallback to <0xNN> tokens."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    trainer_tok.pre_tokenizer = pre_tokenizers.Split("\u2581", behavior="merged_with_next")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 259, special_tokens=[], show_progress=False)
    trainer_tok.train_from_iterator(CORPUS, trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for token, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    return tok


def parity(tok):
    cases = []
    for text in PARITY_TEXTS:
        plain = tok.encode(text, add_special_tokens=False)
        special = tok.encode(text, add_special_tokens=True)
        cases.append({"text": text, "ids": plain.ids, "ids_with_special": special.ids,
                      "decoded": tok.decode(plain.ids, skip_special_tokens=False)})
    return cases


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def lm_loss(model, ids):
    return model(input_ids=ids, labels=ids).loss


def write_fixture(out, name, model, tok, lora_targets, fan_in_fan_out, seed, shard=False):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model.eval()
    model.save_pretrained(d, safe_serialization=True, max_shard_size="40KB" if shard else "2GB")
    tok.save(os.path.join(d, "tokenizer.json"))
    g = torch.Generator().manual_seed(seed + 1)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (2, 13), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1, :]
        loss = lm_loss(model, ids).item()
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=lora_targets, lora_dropout=0.0, fan_in_fan_out=fan_in_fan_out,
                     init_lora_weights=False, bias="none", task_type="CAUSAL_LM")
    torch.manual_seed(seed + 2)
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_" in n:
                p.mul_(3.0)
    peft_model.train()  # dropout is 0 everywhere; train mode only to get grads
    peft_loss = lm_loss(peft_model, ids)
    peft_loss.backward()
    grads = {}
    for n, p in peft_model.named_parameters():
        if "lora_" in n and p.grad is not None:
            grads[n] = p.grad.detach().clone().contiguous()
    from safetensors.torch import save_file
    save_file(grads, os.path.join(d, "lora_grads.safetensors"))
    peft_model.save_pretrained(os.path.join(d, "adapter"))
    fixture = {
        "family": name,
        "input_ids": ids.tolist(),
        "logits_shape": list(logits.reshape(-1, vocab).shape),
        "logits": [round(float(x), 7) for x in logits.reshape(-1).tolist()],
        "loss": loss,
        "lora_loss": peft_loss.item(),
        "lora_targets": lora_targets,
        "sharded": shard,
    }
    with open(os.path.join(d, "fixture.json"), "w") as f:
        json.dump(fixture, f)
    return fixture


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="client-agent/src/test/resources/hf-fixtures")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "tokenizers"), exist_ok=True)
    torch.manual_seed(0)

    gpt2_tok = byte_level_bpe()
    llama3_tok = byte_level_bpe(LLAMA3_PATTERN)
    sp_tok = sentencepiece_bpe()
    for kind, tok in [("gpt2-byte-level", gpt2_tok), ("llama3-byte-level", llama3_tok), ("sentencepiece-bpe", sp_tok)]:
        tok.save(os.path.join(args.out, "tokenizers", kind + ".tokenizer.json"))
        with open(os.path.join(args.out, "tokenizers", kind + ".parity.json"), "w") as f:
            json.dump(parity(tok), f, ensure_ascii=False, indent=0)

    common = dict(attn_implementation="eager")
    for tied in (True, False):
        cfg = GPT2Config(n_layer=2, n_head=2, n_embd=16, n_positions=32, vocab_size=gpt2_tok.get_vocab_size(),
                         tie_word_embeddings=tied, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                         bos_token_id=0, eos_token_id=0)
        torch.manual_seed(1)
        m = GPT2LMHeadModel(cfg)
        if not tied:
            m.lm_head.weight = torch.nn.Parameter(m.lm_head.weight.detach().clone())
        randomise(m, 11 if tied else 12)
        m.config._attn_implementation = "eager"
        write_fixture(args.out, "gpt2-tied" if tied else "gpt2-untied", m, gpt2_tok, ["c_attn", "c_proj", "c_fc"], True,
                      21 if tied else 22)

    llama = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, vocab_size=sp_tok.get_vocab_size(), max_position_embeddings=64,
                        rms_norm_eps=1e-6, rope_theta=500000.0, tie_word_embeddings=False, bos_token_id=1,
                        eos_token_id=2, attention_dropout=0.0)
    torch.manual_seed(2)
    m = LlamaForCausalLM(llama)
    randomise(m, 13)
    m.config._attn_implementation = "eager"
    write_fixture(args.out, "llama-gqa-untied", m, sp_tok,
                  ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], False, 23, shard=True)

    qwen = Qwen2Config(hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=1, vocab_size=llama3_tok.get_vocab_size(), max_position_embeddings=64,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False,
                       bos_token_id=0, eos_token_id=1, attention_dropout=0.0)
    torch.manual_seed(3)
    m = Qwen2ForCausalLM(qwen)
    randomise(m, 14)
    m.config._attn_implementation = "eager"
    write_fixture(args.out, "qwen2-bias-tied", m, llama3_tok, ["q_proj", "v_proj", "o_proj", "up_proj"], False, 24)


if __name__ == "__main__":
    main()
