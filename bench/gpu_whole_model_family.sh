#!/usr/bin/env bash
# Issue 23's next GPU runs, one family per device call (each well inside 10 minutes), every
# figure with its plain-vLLM twin from the same machine. Qwen3-Coder-30B-A3B-FP8, dummy
# weights, real top-k routing (VLLM_MOE_ROUTING_SIMULATION_STRATEGY empty, as the plugin's
# earlier runs), decode at batch 1/8/32 on a 1K prompt and batch 1 on a 32K prompt.
#
#   RUN="bash .gpu/k.sh" bash bench/gpu_whole_model_family.sh STAGE OUT_DIR
#
# RUN is what puts vLLM and Fathom on the path (default: python3 as is). Stages, in the
# order a session runs them (the machine keeps /tmp between calls while it stays warm):
#   kernels   the kernel sweep (split-K of the expert up kernel at 1/2/4, the cast fused
#             into the down kernel or not; 1, 2 and 4 tokens) and the GPU correctness test;
#             the fastest tiles go to $OUT/tiles.json and $TILES_FILE for the stages after
#   attention the decode attention's GPU test and its sweep beside FlashAttention-3
#             (bench/gpu_decode_attention.py): its fastest tile, the batches where it wins
#             and, if it wins at batch 1, ``attention`` in the ops, merged into $TILES_FILE
#   twins     the plugin on (--engine plain --decode-kernels) with those tiles: decode, 32K
#             decode and a batch-1 profile; then plain vLLM, decode and 32K decode: the A/B
#   plugin, plain  the two halves of twins, a call each (same machine, same session)
#   plugin-short, plain-short  both in one call: decode at 1K only (the plugin's with a profile)
#   splits    FlashAttention-3 without split-KV (fa-one-split): plugin on, then plain vLLM
#   fusion    the plugin with vLLM's fusion passes, and its plain twin
#   gemv      the plugin with the tiles in $TILES_FILE (the dense GEMV sweep's), decode at 1K
#             and a batch-1 profile; then its plain twin, decode at 1K and a batch-32 profile
#   rows      the plugin at batch 1/2/4/8/32 (4 rows: the tl.dot dense kernel), 32K decode,
#             batch-1 and batch-32 profiles; then its plain twin, the same
#   wide-plugin, wide-plain  the plugin's dense linears on its tl.dot kernel up to TILES'
#             dense_max_tokens (16; $TILES_FILE may raise it to 64) against plain vLLM, a call each:
#             decode at batch 1/2/4/8/16/32/64 on a 1K prompt and a batch-32 profile
#   completion inline completion over a stretch of typing (bench/completion_latency.py) on the
#             whole model through Fathom's engine and GPU defaults: vLLM's kernels, then
#             FATHOM_DECODE_KERNELS=1 (the plugin), each a first start (Triton's, torch's and
#             vLLM's compile caches emptied before it). The model's config with the tokenizer
#             in $QWEN_TOKENIZER (the CPU default model's folder, whose vocabulary Qwen3-Coder
#             shares, carried to the device), dummy weights, each request writing as many
#             tokens as the CPU default model wrote for it
#             (bench/results/completion_requests_cpu-0.5b.json)
#             (KERNELS=1 or KERNELS=0 runs one of the two, when both do not fit one call)
#   completion-warm  the same two again on the caches the runs before left (a later start)
#   prefill   where a prefill past vLLM's CUDA graphs spends its time on a first start
#             (bench/gpu_prefill_profile.py), through Fathom's engine and GPU defaults with
#             DeepGEMM on, as users run it: the plugin, then vLLM's kernels (KERNELS picks one);
#             each log's "torch.compile took" is the compile time the op's key changed
#   moe-tuned DeepSeek-V2-Lite, plain vLLM with its default MoE config, then with the configs
#             bench/gpu_moe_tune.py wrote to $MOE_CONFIGS (VLLM_TUNED_CONFIG_FOLDER)
# Each engine run is cut at its own timeout, so a slow start costs one row, not the call.
set -u
STAGE=${1:?stage}
OUT=${2:?out dir}
RUN=${RUN:-}
export VLLM_MOE_ROUTING_SIMULATION_STRATEGY=${VLLM_MOE_ROUTING_SIMULATION_STRATEGY-}
TILES_FILE=${TILES_FILE:-/tmp/fathom-decode-tiles.json}
mkdir -p "$OUT"
# The sweep's fastest tiles (none yet: the plugin's defaults), for every run with the plugin.
FATHOM_DECODE_TILES=$(cat "$TILES_FILE" 2>/dev/null || echo '{}')
export FATHOM_DECODE_TILES
# ... and the kernels that beat vLLM's there (the plugin reads them from FATHOM_DECODE_OPS).
OPS=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("ops", ""))' \
  "$TILES_FILE" 2>/dev/null || true)
[ -n "$OPS" ] && export FATHOM_DECODE_OPS=$OPS
echo "FATHOM_DECODE_TILES=$FATHOM_DECODE_TILES FATHOM_DECODE_OPS=${FATHOM_DECODE_OPS:-moe,dense}"
MODEL=(--model qwen3-coder-30b-a3b-fp8 --batches 1 8 32 --out "$OUT")

whole() {  # whole TIMEOUT TAG ARGS...: one engine, decode (1K and 32K), grep the figures
  local limit=$1 tag=$2
  shift 2
  timeout -k 15 "$limit" $RUN python3 -u bench/gpu_whole_model.py "${MODEL[@]}" --tag "$tag" "$@" 2>&1 |
    tr '\r' '\n' | tee "$OUT/$tag.log" |
    grep -E "^\[bench\] (engine up|decode|decode_long|profile(32|_prefill)? done|wrote)|init engine|torch.compile took|decode kernels registered|Error|error:" |
    cut -c1-600
}

case "$STAGE" in
  kernels)
    timeout 200 $RUN python3 -u bench/gpu_decode_kernels.py --tokens 1 2 4 --up-n 64 \
      --stages 3 --split-k 1 2 4 --fused-cast 0 1 --tag h200-split --tiles-file "$OUT/tiles.json" \
      --out "$OUT" 2>&1 | grep -E "^\[kernels\]|^FATHOM|Error" | cut -c1-900
    cp "$OUT/tiles.json" "$TILES_FILE" 2>/dev/null
    timeout 90 $RUN python3 tests/test_fp8_decode_kernels_gpu.py 2>&1 | tail -8
    ;;
  attention)
    timeout 60 $RUN python3 tests/test_decode_attention_gpu.py 2>&1 | tail -6
    timeout 240 $RUN python3 -u bench/gpu_decode_attention.py --tiles-file "$TILES_FILE" \
      --out "$OUT" 2>&1 | grep -E "^\[attention\]|Error" | cut -c1-700
    cp "$TILES_FILE" "$OUT/tiles.json"
    ;;
  twins)
    whole 360 qwen3_plugin --engine plain --decode-kernels --phases decode decode_long profile
    whole 200 qwen3_plain-twin --engine plain --phases decode decode_long
    ;;
  plugin)  # the twins stage in two calls: each engine run gets a call of its own
    whole 400 qwen3_plugin --engine plain --decode-kernels --phases decode decode_long profile
    ;;
  plain)
    whole 240 qwen3_plain-twin --engine plain --phases decode decode_long
    ;;
  plugin-short)  # plugin and plain in one call: decode at 1K only
    whole 290 qwen3_plugin --engine plain --decode-kernels --phases decode profile
    ;;
  plain-short)
    whole 170 qwen3_plain-twin --engine plain --phases decode
    ;;
  splits)
    whole 300 qwen3_plugin-fa-one-split --engine plain --decode-kernels \
      --variant fa-one-split --phases decode decode_long
    whole 200 qwen3_plain-fa-one-split --engine plain --variant fa-one-split \
      --phases decode decode_long
    ;;
  fusion)
    whole 300 qwen3_plugin-fusion --engine plain --decode-kernels --variant fusion \
      --phases decode
    whole 200 qwen3_plain-fusion-twin --engine plain --phases decode
    ;;
  gemv)
    whole 330 qwen3_plugin-gemv --engine plain --decode-kernels --phases decode profile
    whole 200 qwen3_plain-gemv-twin --engine plain --phases decode profile32
    ;;
  rows)
    ROWS=(--batches 1 2 4 8 32 --phases decode decode_long profile profile32)
    whole 330 qwen3_plugin-rows --engine plain --decode-kernels "${ROWS[@]}"
    whole 220 qwen3_plain-rows-twin --engine plain "${ROWS[@]}"
    ;;
  wide-plugin | wide-plain)
    WIDE=(--batches 1 2 4 8 16 32 64 --phases decode profile32)
    if [ "$STAGE" = wide-plugin ]; then
      whole 400 qwen3_plugin-wide${TAG:-} --engine plain --decode-kernels "${WIDE[@]}"
    else
      whole 300 qwen3_plain-wide-twin${TAG:-} --engine plain "${WIDE[@]}"
    fi
    ;;
  completion | completion-warm)
    DIR=/tmp/fathom-qwen3-30b-real-tokenizer
    [ -d "$DIR" ] || python3 bench/dummy_models.py qwen3-coder-30b-a3b-fp8 "$DIR" \
      --tokenizer "${QWEN_TOKENIZER:?folder of the CPU default model}" >/dev/null
    export VLLM_USE_FLASHINFER_SAMPLER=0 # vLLM's sampler imports FlashInfer, not in the bundle
    LAT=(--lengths bench/results/completion_requests_cpu-0.5b.json --model "$DIR" --out "$OUT")
    SUFFIX=$([ "$STAGE" = completion ] && echo cold || echo second)
    for kernels in ${KERNELS:-0 1}; do  # KERNELS=1 or 0: one half, a device call each
      [ "$STAGE" = completion ] && rm -rf ~/.triton/cache ~/.cache/vllm "/tmp/torchinductor_$(whoami)"
      LABEL=${TAG:-gpu}-qwen3-30b$([ $kernels = 0 ] && echo -vllm-kernels)-$SUFFIX
      # First starts on an H100 took 246 s to initialise with vLLM's kernels and 340 s with the
      # plugin (2026-12-06; 330 and 250 s limits cut both off), then ~80 s of requests.
      LIMIT=$([ $kernels = 1 ] && echo "${PLUGIN_LIMIT:-540}" || echo "${VLLM_LIMIT:-450}")
      # The whole log comes back in $OUT; progress bars' carriage returns become lines.
      FATHOM_DECODE_KERNELS=$kernels timeout $LIMIT $RUN python3 -u bench/completion_latency.py \
        "${LAT[@]}" --label "$LABEL" 2>&1 | tr '\r' '\n' | tee "$OUT/$LABEL.log" |
        grep -E "latency|init engine|Selected .* for Fp8LinearMethod|warmup: 100|torch.compile took|Graph capturing finished|Error|error" |
        cut -c1-300
    done
    ;;
  prefill)  # KERNELS=1 or 0 (default both, the plugin first), each a first start
    for kernels in ${KERNELS:-1 0}; do
      rm -rf ~/.triton/cache ~/.cache/vllm "/tmp/torchinductor_$(whoami)"
      TAG_K=$([ $kernels = 1 ] && echo plugin || echo vllm-kernels)
      LIMIT=$([ $kernels = 1 ] && echo "${PLUGIN_LIMIT:-540}" || echo "${VLLM_LIMIT:-450}")
      FATHOM_DECODE_KERNELS=$kernels VLLM_USE_DEEP_GEMM=1 whole "$LIMIT" "qwen3_${TAG_K}-prefill" \
        --engine fathom --phases profile_prefill
    done
    ;;
  moe-tuned)
    V2=(--model deepseek-v2-lite --engine plain --phases decode profile32)
    whole 170 v2-lite_plain-default-moe "${V2[@]}"
    VLLM_TUNED_CONFIG_FOLDER=${MOE_CONFIGS:?folder of tuned MoE configs} \
      whole 170 v2-lite_plain-tuned-moe "${V2[@]}"
    ;;
  *)
    echo "unknown stage $STAGE" >&2
    exit 2
    ;;
esac
ls "$OUT"
