"""The few places where the project reaches a library's private name (leading underscore) because no
public one does the job: which names, why, and the library versions each was written and tested for
(the CPU lock's pin and the GPU lock's). The module that reaches them calls `check(__name__)` on
import, which warns when the installed version is another; tests/test_private_apis.py checks every
entry against the installed library under each dependency set (`make test`: the CPU pins,
`make test-gpu-set`: the GPU pins) and fails on a private use that is not listed here.
"""

from __future__ import annotations

import importlib.metadata as md
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class PrivateUse:
    library: str  # the distribution, as importlib.metadata names it
    owner: str  # the module or class holding the names: "package.module" or "package.module:Class"
    names: tuple[str, ...]  # the private names reached (attributes, or instance attributes set in its source)
    where: str  # the project module that reaches them
    why: str  # why no public name does
    written_for: tuple[str, ...]  # the versions it was written and tested for: the CPU and the GPU pin


USES = (
    PrivateUse("trl", "trl.trainer.grpo_trainer:GRPOTrainer", ("_generate_and_score_completions", "_metrics"),
               "train.dynamic_sampling",
               "TRL has no public per-batch hook between generation and the loss (DAPO's filter goes there), "
               "and its public logging takes no metric outside a reward function",
               ("1.16.0",)),
    PrivateUse("trl", "trl.trainer.grpo_trainer:GRPOTrainer", ("_generate_and_score_completions",),
               "train.generation_copy",
               "TRL's transformers-generate path calls the training model's own generate, with no public way to "
               "pass it another model; the rollouts swap in the bf16 copy around this call only",
               ("1.16.0",)),
    PrivateUse("trl", "trl.trainer.grpo_trainer:GRPOTrainer", ("_get_per_token_logps_and_entropies",),
               "train.shared_prompt_loss",
               "the one place TRL runs the policy over a batch's prompts and completions for the loss; it has no "
               "public option to compute a group's shared prompt once",
               ("1.16.0",)),
    PrivateUse("transformers", "transformers.integrations.deepspeed", ("_hf_deepspeed_config_weak_ref",),
               "train.distributed",
               "the public deepspeed_config() returns a copy-able dict, not the live HfDeepSpeedConfig object "
               "that set_hf_deepspeed_config() must get back",
               ("5.17.0", "5.19.0")),
    PrivateUse("lm_eval", "lm_eval.models.api_models:TemplateAPI", ("_create_payload",),
               "evaluation.api_model",
               "the abstract method lm-eval's API guide tells API models to implement: the only place a request "
               "body is built",
               ("0.4.13",)),
    PrivateUse("accelerate", "accelerate.state:AcceleratorState", ("_reset_state",),
               "train.sft",
               "accelerate keeps one shared state per process and offers no public reset before a second "
               "DeepSpeed Accelerator",
               ("1.15.0",)),
)


def uses_in(where: str) -> list[PrivateUse]:
    return [u for u in USES if u.where == where]


def check(where: str) -> None:
    """Warn when a library that `where` reaches privately is at a version it was not written for."""
    for use in uses_in(where):
        try:
            installed = md.version(use.library)
        except md.PackageNotFoundError:
            continue  # the import of the library itself fails first, more clearly
        if installed not in use.written_for:
            warnings.warn(f"{where} uses {use.library}'s private {', '.join(use.names)} ({use.owner}), written for "
                          f"{use.library} {' and '.join(use.written_for)}; installed: {installed}. Check it still "
                          "works the same (tests/test_private_apis.py)", RuntimeWarning, stacklevel=2)
