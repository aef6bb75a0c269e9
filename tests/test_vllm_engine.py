"""VllmEngine with the real CPU default model: stream, count tokens, abort, complete code,
bad models. The model tests share one engine (a start costs about a minute)."""

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from fathom.backend.cpu_defaults import SMALL_MACHINE_CORES
from fathom.backend.engine import (
    ChatMessage,
    ChatRequest,
    Engine,
    GenerationStats,
    ModelUnavailableError,
)
from fathom.backend.fim import detect_fim
from fathom.backend.tokenizer import engine_fingerprint
from fathom.backend.vllm_engine import VllmEngine, resolve_model
from fathom.backend.vllm_settings import VllmSettings
from fathom.context import LineRange, Workspace
from fathom.edits.degenerate import reply_loop
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot
from fathom.edits.prompt import edit_messages
from fathom.pipeline.completion import CompletionEngine, complete
from fathom.pipeline.edit_flow import run_edit
from fathom.pipeline.repositories import index_repository


def _ask(text: str, max_tokens: int) -> ChatRequest:
    return ChatRequest([ChatMessage("user", text)], max_tokens=max_tokens)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine(model_dir: Path) -> AsyncIterator[VllmEngine]:
    started = VllmEngine(VllmSettings(model=str(model_dir), max_model_len=4096))
    try:
        await started.start()
        yield started
    finally:
        await started.close()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_engine_streams_counts_and_aborts(engine, tokenizer):
    assert isinstance(engine, Engine)
    assert engine.max_context == 4096

    # A short greedy generation: real text, stats filled in.
    stats = GenerationStats()
    pieces = [
        p async for p in engine.stream(_ask("What is 2 + 3? Answer with a number.", 16), stats)
    ]
    reply = "".join(pieces)
    assert "5" in reply
    assert 0 < stats.completion_tokens <= 16
    assert stats.prompt_tokens > 10 and stats.first_token_s is not None

    # Token counts are the model's own tokenizer's.
    text = "def total_value(items): return sum(i.price for i in items) 😀"
    assert engine.count_tokens(text) == len(tokenizer.encode(text, add_special_tokens=False))

    # Abort mid-stream: the stream ends early, well before max_tokens.
    request = _ask("Count from 1 to 500, one number per line.", 400)
    got: list[str] = []

    async def consume() -> None:
        async for piece in engine.stream(request):
            got.append(piece)

    task = asyncio.create_task(consume())
    while not got:
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await engine.abort(request.request_id)
    await asyncio.wait_for(task, timeout=10)
    assert time.monotonic() - started < 5
    assert len("".join(got)) < 400  # far from 400 tokens of numbers

    # The engine still serves after an abort.
    again = "".join([p async for p in engine.stream(_ask("Say OK.", 4))])
    assert again.strip()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_completion_fills_in_the_middle(engine):
    """pipeline.completion.complete on the embedded engine: the raw FIM prompt of the
    model's own format, a one-line suggestion without its special tokens."""
    assert isinstance(engine, CompletionEngine)
    fim = detect_fim(engine.tokenizer).format
    assert fim is not None and fim.family == "qwen"
    text = 'def greet(name):\n    return "Hello, " + \n\n\nprint(greet("world"))\n'
    cursor = len('    return "Hello, " + ')
    stats = GenerationStats()
    result = await complete(
        engine,
        fim,
        text,
        1,
        cursor,
        language="python",
        count_tokens=engine.count_tokens,
        path="greet.py",
        stats=stats,
    )
    assert result.mode == "single"
    assert result.text.strip(), result.reason
    assert "\n" not in result.text
    assert not any(token in result.raw for token in fim.special_tokens)
    assert stats.finish_reason in ("stop", "length")
    assert stats.prompt_tokens > 10 and stats.completion_tokens > 0
    assert engine.running_requests() == []


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_a_repetition_penalty_reaches_the_sampler(engine):
    """``fathom edit --repetition-penalty``: the embedded engine gives it to vLLM, whose
    penalty counts the prompt's tokens too, so a reply asked to repeat a word repeats it less."""
    words = "Write the word cat 30 times, separated by spaces, and nothing else."
    greedy = "".join([p async for p in engine.stream(_ask(words, 40))])
    penalised = "".join(
        [
            p
            async for p in engine.stream(
                dataclasses.replace(_ask(words, 40), repetition_penalty=1.8)
            )
        ]
    )
    assert greedy.lower().count("cat") >= 10
    assert penalised.lower().count("cat") < greedy.lower().count("cat")


RENAME_TASK = Path(__file__).resolve().parents[1] / "bench/eval/suite/py-rename-quantity/before"


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_the_real_model_is_asked_for_every_file_and_its_edit_is_well_formed(engine, tmp_path):
    """The multi-file prompt and the guards with the real model, on an eval task that needs
    its caller changed: the model is shown the caller and told it may change it; whatever it
    writes ends as a plan that changes only shown files and holds no loop, or as Fathom's own
    refusal. Nothing else (a crash, an unguarded reply) may come out."""
    root = tmp_path / "task"
    shutil.copytree(RENAME_TASK, root)
    (root / ".git").mkdir()
    repository, _stats, _notes = index_repository(root, engine, engine_fingerprint(engine))
    target = root / "inventory" / "stock.py"
    selection = LineRange(15, 18)
    instruction = "rename get_qty to quantity_of and update everything that calls it"
    try:
        workspace = Workspace(root, engine, repository=repository)
        snapshot = DocumentSnapshot(target, target.read_text(), None)
        pack = workspace.pack(target, selection, instruction, 2000)
        shown = {s.path.as_posix() for s in pack.sections}
        assert "inventory/report.py" in shown  # the caller is in the prompt
        (_system, user) = edit_messages(pack, instruction)
        assert "other files shown above must change with it" in user.content
        replies: list[str] = []
        try:
            outcome = await run_edit(
                engine,
                workspace,
                snapshot,
                selection,
                instruction,
                snapshot_of=lambda p: DocumentSnapshot(p, p.read_text(), None),
                on_reply=replies.append,
                max_output=512,
            )
        except EditError as refused:
            assert str(refused)  # Fathom says why
            return
        finally:
            assert replies  # the model was asked and answered
        changed = {p.relative_to(root).as_posix() for p in outcome.plan.final_texts()}
        assert changed and changed <= shown
        assert reply_loop(outcome.unified_diff(root)) is None
        for text in outcome.plan.final_texts().values():
            assert text is not None and check_syntax_ok(text)
    finally:
        repository.index.close()


def check_syntax_ok(text: str) -> bool:
    """The edited module still compiles (the plan's syntax check promised it)."""
    compile(text, "edited.py", "exec")
    return True


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere"), print)
    with pytest.raises(ModelUnavailableError, match=r"no config\.json"):
        resolve_model(str(tmp_path), print)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (vLLM's engine core, and its worker under that)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _physical_core(cpu: int) -> tuple[str, str]:
    topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
    return (topology / "physical_package_id").read_text(), (topology / "core_id").read_text()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_on_a_small_machine_the_model_gets_every_core(engine):
    """backend/cpu_defaults.py: with two usable cores or fewer, vLLM reserves none for its
    scheduler, so the worker that runs the model is bound to all of them; with more, Fathom
    leaves vLLM's reservation alone."""
    usable = os.sched_getaffinity(0)
    small = len(usable) <= SMALL_MACHINE_CORES
    workers = []
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "VLLM::Worker":
                workers.append(pid)
    assert len(workers) == 1, workers
    environ = Path(f"/proc/{workers[0]}/environ").read_bytes().split(b"\0")
    assert (b"VLLM_CPU_NUM_OF_RESERVED_CPU=0" in environ) == small
    if small:
        # vLLM binds each OpenMP thread to one logical CPU, one per physical core: the
        # worker's threads cover every core this process may use (a reserved one would be
        # missing).
        bound: set[int] = set()
        for task in Path(f"/proc/{workers[0]}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                bound |= os.sched_getaffinity(int(task.name))
        assert {_physical_core(cpu) for cpu in bound} == {_physical_core(cpu) for cpu in usable}


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_a_prompt_sent_again_is_computed_again_only_from_its_last_32_token_block(engine):
    """backend/cpu_defaults.py: on the CPU the KV cache is kept in blocks of 32 tokens, where
    vLLM makes them 128, and the prefix cache reuses whole blocks only. The prompt is padded
    until 128-token blocks would leave 64 or more of its tokens to compute again."""
    text = f"# {uuid.uuid4().hex}\n" + "def add_one(x):\n    return x + 1\n\n" * 20
    while (engine.prompt_tokens([ChatMessage("user", text)]) - 1) % 128 < 64:
        text += " pad"
    length = engine.prompt_tokens([ChatMessage("user", text)])
    first, second = GenerationStats(), GenerationStats()
    for stats in (first, second):
        async for _ in engine.stream(_ask(text, 1), stats):
            pass
    assert first.prompt_tokens == second.prompt_tokens == length
    # vLLM computes at least the last token, and caches whole blocks before it.
    assert second.cached_prompt_tokens == (length - 1) // 32 * 32
    assert second.cached_prompt_tokens > first.cached_prompt_tokens
