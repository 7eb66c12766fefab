# tests/cli/onnx_check.bash - sourced by tests/cli/export*.sh after
# common.bash's cli_init: checks an exported model the way its users run it.
#   onnx_tools              stop (one failure) unless ONNX Runtime (npm's
#                           onnxruntime-node in BUILD/onnxruntime, installed
#                           by tools/setup), node and python3-onnx are there
#   onnx_agrees NAME RUN DATA   export RUN, then the same images of DATA
#                           through netrun and through ONNX Runtime
# Not a test itself.

model_outputs=$bin/netrun-model-outputs
ort_modules=$bin/onnxruntime/node_modules
onnx_python=/usr/bin/python3   # Debian's, where python3-onnx installs

onnx_tools() {
  need_tools "$model_outputs"
  local missing=()
  command -v node >/dev/null || missing+=("node (Debian package nodejs)")
  [[ -f $ort_modules/onnxruntime-node/package.json ]] ||
    missing+=("onnxruntime-node in $bin/onnxruntime")
  "$onnx_python" -c 'import onnx' 2>/dev/null || missing+=("python3-onnx")
  if ((${#missing[@]})); then
    echo "FAIL: missing ${missing[*]}: run tools/setup (it installs them)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
}

# onnx_agrees NAME RUN DATA: `netrun export RUN` succeeds, onnx.checker
# accepts the model (full check, shapes inferred) and it declares what
# netrun/onnx_export.h says (IR 7, opset 13, input 'input' [N, C, H, W],
# output [N, classes], metadata: DATA's class names in order, the pixel
# scaling); netrun-model-outputs gives netrun's outputs for every image of
# DATA (nr_model_predict_pixels, as netrun predict) and the scaled inputs,
# ONNX Runtime runs those inputs, and the two agree: the same argmax for at
# least 99.9% of the images and every value within 1e-4. Four assertions;
# prints the figures.
onnx_agrees() {
  local name=$1 run=$2 data=$3 model=$tmp/$1.onnx shape n c h w k figures rows agree diff
  if ! "$netrun" export "$run" -o "$model" >"$tmp/$name.export" 2>&1; then
    fail "$name: export: $(cat "$tmp/$name.export")"; return
  fi
  ok
  local output=probabilities
  grep -q "output 'outputs'" "$tmp/$name.export" && output=outputs
  if "$onnx_python" - "$model" "$data" "$output" >"$tmp/$name.checker" 2>&1 <<'PY'; then
import json, os, sys
import onnx
path, data, output = sys.argv[1:]
m = onnx.load(path)
onnx.checker.check_model(m, full_check=True)
assert m.ir_version == 7, m.ir_version
assert [(o.domain, o.version) for o in m.opset_import] == [("", 13)], m.opset_import
def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
g = m.graph
assert [i.name for i in g.input] == ["input"], [i.name for i in g.input]
assert [o.name for o in g.output] == [output], [o.name for o in g.output]
meta = {p.key: p.value for p in m.metadata_props}
names = sorted(n for n in os.listdir(os.fsencode(data + "/Train" if os.path.isdir(data + "/Train") else data))
               if not n.startswith(b"."))
names = [n.decode() for n in names]
assert json.loads(meta["class_names"]) == names, (meta["class_names"], names)
c, h, w = json.loads(meta["input_shape"])
assert dims(g.input[0]) == ["N", c, h, w], dims(g.input[0])
assert dims(g.output[0]) == ["N", len(names)], dims(g.output[0])
scale = json.loads(meta["pixel_scale"])
assert len(scale) == c and all(abs(s - 1 / 255) < 1e-9 for s in scale), scale
assert json.loads(meta["pixel_shift"]) == [0] * c, meta["pixel_shift"]
assert meta["outputs"] == ("probabilities" if output == "probabilities" else "raw")
assert "netrun_version" in meta and "pixel (0..255) * scale + shift" in m.doc_string
print("checker ok:", len(g.node), "nodes,", len(g.initializer), "initializers")
PY
    ok
  else
    fail "$name: onnx.checker / declared shapes and metadata: $(cat "$tmp/$name.checker")"
  fi
  if ! shape=$("$model_outputs" "$run" "$data" "$tmp/$name.in.f32" "$tmp/$name.netrun.f32" \
                 2>"$tmp/$name.err") ||
     ! NODE_PATH=$ort_modules node "$src/tests/cli/onnx_run.js" run "$model" \
         "$tmp/$name.in.f32" "$tmp/$name.ort.f32" >"$tmp/$name.ort" 2>>"$tmp/$name.err"; then
    fail "$name: running the model: $(cat "$tmp/$name.err")"; return
  fi
  read -r n c h w k <<<"$shape"
  figures=$(node "$src/tests/cli/onnx_run.js" compare "$tmp/$name.netrun.f32" \
              "$tmp/$name.ort.f32" "$k")
  read -r _ rows _ agree _ diff <<<"$figures"
  echo "$name: $(cat "$tmp/$name.ort"); $figures"
  check "$name: ONNX Runtime's argmax = netrun's on >= 99.9% ($agree of $rows = $n)" \
    awk -v a="$agree" -v r="$rows" -v n="$n" 'BEGIN { exit !(r == n && n > 0 && a * 1000 >= r * 999) }'
  check "$name: every output within 1e-4 (max |difference| $diff)" \
    awk -v d="$diff" 'BEGIN { exit !(d != "NaN" && d + 0 <= 1e-4) }'
}
