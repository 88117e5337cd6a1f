// Compile every .py under a folder to CPython 3.13 bytecode (__pycache__/*.cpython-313.pyc).
//
// Lambda's /opt is read-only, so a layer without bytecode is compiled from
// source in memory on every cold start: ~2.4x the import time of this
// service's handlers. The bytecode must come from Python 3.13, which the
// build machine may not have; Pyodide is that CPython, built for WebAssembly
// and installed from npm. Unchecked-hash .pyc files stay valid whatever the
// files' timestamps become in the zip.
//
// Usage: node compile_bytecode.mjs <folder>
import { loadPyodide } from "pyodide";

const folder = process.argv[2];
if (!folder) {
  console.error("usage: node compile_bytecode.mjs <folder>");
  process.exit(2);
}
const python = await loadPyodide();
python.FS.mkdirTree("/target");
python.FS.mount(python.FS.filesystems.NODEFS, { root: folder }, "/target");
const summary = python.runPython(`
import compileall, py_compile, sys
assert sys.version_info[:2] == (3, 13), sys.version
ok = compileall.compile_dir(
    "/target", quiet=1, workers=1,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
f"compiled with Python {sys.version.split()[0]}: {'ok' if ok else 'FAILED'}"
`);
console.log(summary);
process.exit(summary.endsWith("ok") ? 0 : 1);
