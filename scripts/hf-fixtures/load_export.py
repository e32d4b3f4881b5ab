# Load a fedlora export (./fedlora aggregate output, or the unzipped coordinator export) with transformers + PEFT.
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel

export, fixture = sys.argv[1], sys.argv[2]
ids = torch.tensor(json.load(open(fixture))["input_ids"])

def loss(model):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item()

merged = AutoModelForCausalLM.from_pretrained(export + "/merged")           # plain transformers, no PEFT
peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(export), export)  # folded base + adapter
print(f"merged/ loss {loss(merged):.6f}   base+adapter loss {loss(peft):.6f}   expected (HF+PEFT fixture) "
      f"{json.load(open(fixture))['lora_loss']:.6f}")
