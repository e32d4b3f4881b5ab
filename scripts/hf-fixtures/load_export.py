"""Loads a fedlora export (./fedlora aggregate --out DIR, or the unzipped coordinator export) every way a Hugging Face
user might, and checks that each either gives the federated model or fails.

    python scripts/hf-fixtures/load_export.py EXPORT FIXTURE_DIR [ADAPTER_DIR:N ...]

The expected loss on the fixture's input ids comes from outside the export: with no ADAPTER_DIR:N, the fixture's
lora_loss (HF + PEFT on the fixture's own adapter, for an export aggregated from that adapter alone); with them, the
fixture's original model with sum_i (N_i / sum N) * s * B_i A_i added to each adapted weight by hand in float64 (what
FedEx-LoRA's export must equal). Prints one line per path and exits 1 if a path loads a different model (|loss -
expected| > 1e-4) or a path that must fail loads. Needs torch, transformers, peft; run offline (HF_HUB_OFFLINE=1).
"""
import json, os, subprocess, sys

import torch

TOLERANCE = 1e-4
export, fixture, clients = sys.argv[1], sys.argv[2], [a.rsplit(":", 1) for a in sys.argv[3:]]
ids = torch.tensor(json.load(open(os.path.join(fixture, "fixture.json")))["input_ids"])


def loss(model):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item()


def expected():
    if not clients:
        return json.load(open(os.path.join(fixture, "fixture.json")))["lora_loss"]
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(fixture)
    weights = dict(model.named_parameters())
    total = sum(float(n) for _, n in clients)
    with torch.no_grad():
        for adapter, n in clients:
            cfg = json.load(open(os.path.join(adapter, "adapter_config.json")))
            s = cfg["lora_alpha"] / (cfg["r"] ** 0.5 if cfg.get("use_rslora") else cfg["r"])
            t = load_file(os.path.join(adapter, "adapter_model.safetensors"))
            for key in (k for k in t if ".lora_A." in k):
                delta = float(n) / total * s * (t[key.replace("lora_A", "lora_B")].double() @ t[key].double())
                w = weights[key.removeprefix("base_model.model.").replace(".lora_A.weight", ".weight")]
                w += (delta.T if cfg["fan_in_fan_out"] else delta).to(w.dtype)  # GPT-2's Conv1D stores W^T
    return loss(model)


# README snippet: ReadmeHfSnippetTest keeps the README's python block identical to the lines up to "end of snippet"
from transformers import AutoConfig, AutoModelForCausalLM
from peft import PeftModel
model = AutoModelForCausalLM.from_pretrained(export)  # the federated model, merged: plain transformers, peft or not
base = AutoModelForCausalLM.from_pretrained(f"{export}/base", config=AutoConfig.from_pretrained(export))
peft = PeftModel.from_pretrained(base, f"{export}/adapter", is_trainable=True)  # the same model, adapter trainable
# end of snippet

want = expected()
failures = []


def report(label, got):
    bad = abs(got - want) > TOLERANCE
    failures.extend([label] if bad else [])
    print(f"{label:<46} loss {got:.6f}{'   DIFFERENT MODEL' if bad else ''}")


report("from_pretrained(export)", loss(model))
report("PeftModel(from_pretrained(base/), adapter/)", loss(peft))
# transformers without peft importable: no directory may silently drop an adapter
NO_PEFT = """import sys; sys.modules["peft"] = None
import json, torch
from transformers import AutoModelForCausalLM
export, fixture = sys.argv[1], sys.argv[2]
ids = torch.tensor(json.load(open(fixture + "/fixture.json"))["input_ids"])
out = {}
for d in (export, export + "/base", export + "/adapter"):
    try:
        m = AutoModelForCausalLM.from_pretrained(d).eval()
        with torch.no_grad():
            out[d] = m(input_ids=ids, labels=ids).loss.item()
    except Exception as e:
        out[d] = type(e).__name__ + ": " + (str(e).strip().splitlines() or [""])[0][:90]
print(json.dumps(out))
"""
no_peft = subprocess.run([sys.executable, "-c", NO_PEFT, export, fixture], capture_output=True, text=True)
if no_peft.returncode != 0:
    failures.append("without peft")
    print(f"the check without peft failed: {no_peft.stderr.strip().splitlines()[-1:]}")
else:
    got = json.loads(no_peft.stdout.strip().splitlines()[-1])
    report("from_pretrained(export), peft not importable", got[export])
    for d in ("base", "adapter"):
        label = f"from_pretrained({d}/), peft not importable"
        if isinstance(got[f"{export}/{d}"], float):
            failures.append(label)
            print(f"{label:<46} LOADS (loss {got[f'{export}/{d}']:.6f}): must fail")
        else:
            print(f"{label:<46} fails: {got[f'{export}/{d}']}")

def must_fail(label, load):
    try:
        got = loss(load())
    except Exception as e:  # any loud failure will do; loading is the defect
        print(f"{label:<46} fails: {type(e).__name__}: {str(e).strip().splitlines()[0][:90] if str(e).strip() else ''}")
        return
    failures.append(label)
    print(f"{label:<46} LOADS (loss {got:.6f}): must fail")


from peft import AutoPeftModelForCausalLM
must_fail("from_pretrained(base/)", lambda: AutoModelForCausalLM.from_pretrained(f"{export}/base"))
must_fail("from_pretrained(adapter/)", lambda: AutoModelForCausalLM.from_pretrained(f"{export}/adapter"))
must_fail("AutoPeftModelForCausalLM(export)", lambda: AutoPeftModelForCausalLM.from_pretrained(export))
must_fail("AutoPeftModelForCausalLM(adapter/)", lambda: AutoPeftModelForCausalLM.from_pretrained(f"{export}/adapter"))
must_fail("AutoPeftModelForCausalLM(base/)", lambda: AutoPeftModelForCausalLM.from_pretrained(f"{export}/base"))
print(f"{'expected (outside the export)':<46} loss {want:.6f}")
if failures:
    print("FAILED: " + ", ".join(failures))
    sys.exit(1)
print("OK: every documented path gives the federated model, every other one fails")
