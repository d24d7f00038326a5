"""openapi.yaml -> client SDKs in build/sdks/: Python and Go by openapi-generator (its PyPI wheel
runs the bundled jar on the machine's Java, offline), TypeScript by @hey-api/openapi-ts (whose
client streams Server-Sent Events). Each SDK groups its operations by tag (ChatApi, AgentApi...)
and gets a small hand-written streaming helper from codegen/sdk/<language>/, because the spec's
streamed operations also answer JSON and the generators read that.

Usage: python -m codegen.sdks [python] [typescript] [go] [--out DIR]   (all three by default)
Needs: Java 17 and the test extra (openapi-generator-cli), `npm ci`, and for Go the golang-go and
golang-gopkg-validator.v2-dev packages (Debian). Imports nothing from the app."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "codegen" / "sdk"
LANGUAGES = ("python", "typescript", "go")
PYTHON_PACKAGE = "cozeplus_sdk"
GO_MODULE = "github.com/cozeplus/sdk-go"
# Debian's copy of the one module the Go client imports (for oneOf models); no module proxy here.
GO_VALIDATOR = Path("/usr/share/gocode/src/gopkg.in/validator.v2")


def prepared_spec(out: Path) -> Path:
    """The spec as the generators should read it, written to out/openapi.json:
    * responses defined once in components get their own name as the schema's title, so clients
      have a `LoginResult` model rather than one named after the first operation that uses it, and
      an operation's own answer and body are `<OperationId>Response` and `<OperationId>Request`
      (not `<OperationId>200Response`, nor the first of several bodies of the same shape);
    * enums lose their default (the server applies it): openapi-generator's Go client declares an
      inline enum's default with a type it never defines, and its Python client names a named
      integer enum's default by a member that does not exist;
    * "send a or b" alternatives (anyOf of `required` lists) go: its Python client drops the body."""
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    for name, response in spec["components"]["responses"].items():
        for media in (response.get("content") or {}).values():
            schema = media.get("schema")
            if isinstance(schema, dict) and "$ref" not in schema:
                schema.setdefault("title", name)
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            name = "".join(part.title() for part in operation["operationId"].split("_"))
            answers = (operation["responses"].get("200", {}).get("content") or {}).values()
            bodies = (operation.get("requestBody", {}).get("content") or {}).values()
            for media, suffix in [*((m, "Response") for m in answers), *((m, "Request") for m in bodies)]:
                schema = media.get("schema")
                if isinstance(schema, dict) and "$ref" not in schema:
                    schema.setdefault("title", name + suffix)
    _visit_objects(spec, _drop_enum_default)
    _visit_objects(spec, _drop_required_alternatives)
    # the generators copy the description into every model file; the first paragraph will do
    spec["info"]["description"] = spec["info"]["description"].split("\n\n")[0]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "openapi.json"
    path.write_text(json.dumps(spec, indent=1))
    return path


def _drop_required_alternatives(schema: dict) -> None:
    """`anyOf: [{required: [a]}, {required: [b]}]` (one of two fields must be sent) is for the
    server to check; openapi-generator's Python client reads it as two models and loses the body."""
    for key in ("anyOf", "oneOf"):
        choices = schema.get(key)
        if isinstance(choices, list) and all(set(choice) == {"required"} for choice in choices):
            del schema[key]


def _drop_enum_default(schema: dict) -> None:
    if "enum" in schema:
        schema.pop("default", None)


def _visit_objects(node, visit) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _visit_objects(value, visit)
    elif isinstance(node, list):
        for value in node:
            _visit_objects(value, visit)


def _run(command: list[str], cwd: Path, **env: str) -> None:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=600
    )
    if result.returncode != 0:
        output = result.stdout[-4000:] + result.stderr[-4000:]
        raise SystemExit(f"{' '.join(command[:3])}... failed:\n{output}")


def _openapi_generator(spec: Path, generator: str, out: Path, *options: str) -> None:
    shutil.rmtree(out, ignore_errors=True)
    binary = Path(sys.executable).with_name("openapi-generator-cli")
    # --skip-validate-spec: its validator wants a link's requestBody to be a string, where
    # OpenAPI 3.0 allows any value (our links send objects, which Schemathesis follows).
    command = [str(binary), "generate", "-i", str(spec), "-g", generator, "-o", str(out)]
    _run([*command, "--skip-validate-spec", *options], cwd=ROOT)


def build_python(spec: Path, out: Path) -> Path:
    target = out / "python"
    # a workflow's `schema_json` would shadow a pydantic BaseModel method; the wire name stays
    _openapi_generator(
        spec, "python", target, "--package-name", PYTHON_PACKAGE, "--name-mappings", "schema_json=canvas_json"
    )
    shutil.copy(HELPERS / "python" / "streaming.py", target / PYTHON_PACKAGE / "streaming.py")
    return target


def build_typescript(spec: Path, out: Path) -> Path:
    target = out / "typescript"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    helper = HELPERS / "typescript"
    for name in ("package.json", "tsconfig.json", "openapi-ts.config.mjs"):
        shutil.copy(helper / name, target / name)
    bin_dir = ROOT / "node_modules" / ".bin"
    _run([str(bin_dir / "openapi-ts"), "-f", "openapi-ts.config.mjs"], cwd=target, COZEPLUS_SPEC=str(spec))
    shutil.copy(helper / "streaming.ts", target / "src" / "streaming.ts")
    with (target / "src" / "index.ts").open("a") as index:
        index.write("export * from './streaming.js';\n")
    _run([str(bin_dir / "tsc"), "-p", "."], cwd=target)
    return target


def build_go(spec: Path, out: Path) -> Path:
    target = out / "go"
    owner, repo = GO_MODULE.split("/")[1:]
    _openapi_generator(
        spec,
        "go",
        target,
        "--package-name",
        "cozeplus",
        "--git-user-id",
        owner,
        "--git-repo-id",
        repo,
        # NullableIdInput (a schema) would clash with the wrapper the generator makes for IdInput
        "--model-name-mappings",
        "NullableIdInput=OptionalIdInput",
        "--additional-properties=enumClassPrefix=true",
    )
    shutil.rmtree(target / "test", ignore_errors=True)  # its tests need testify, which we lack
    shutil.copy(HELPERS / "go" / "streaming.go", target / "streaming.go")
    if not GO_VALIDATOR.is_dir():
        raise SystemExit(f"{GO_VALIDATOR} is missing: apt-get install golang-gopkg-validator.v2-dev")
    vendored = target / "third_party" / "validator.v2"
    shutil.copytree(GO_VALIDATOR, vendored, ignore=shutil.ignore_patterns("*_test.go"))
    (vendored / "go.mod").write_text("module gopkg.in/validator.v2\n\ngo 1.19\n")
    go = {"GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    _run(["go", "mod", "edit", "-replace", "gopkg.in/validator.v2=./third_party/validator.v2"], target, **go)
    _run(["go", "build", "./..."], cwd=target, **go)
    return target


BUILDERS = {"python": build_python, "typescript": build_typescript, "go": build_go}


def build(languages=LANGUAGES, out: Path = ROOT / "build" / "sdks") -> dict[str, Path]:
    spec = prepared_spec(out)
    return {language: BUILDERS[language](spec, out) for language in languages}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.sdks", description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", metavar="{python,typescript,go}")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "sdks")
    args = parser.parse_args(argv)
    unknown = set(args.languages) - set(LANGUAGES)
    if unknown:
        parser.error(f"unknown languages {sorted(unknown)}: choose from {', '.join(LANGUAGES)}")
    for language, path in build(args.languages or LANGUAGES, args.out).items():
        print(f"{language}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
