"""Everything that takes a request derives from the schema: the protocol's checks, the pipeline's
GenerateRequest, the daemon's intake, the command line, the Python client."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import mfmjt_schema as schema


def test_the_protocol_checks_exactly_the_schema_fields():
    from mfmjt_daemon import protocol

    assert set(protocol.FIELDS["generate"]) == {f.name for f in schema.FIELDS}
    header = {"op": "generate", "job": "j1", "duration": 2, "steps": 0}
    try:
        protocol.parse_request(protocol.decode(protocol.encode(header)))
    except protocol.ProtocolError as exc:
        assert exc.code == "bad_request" and exc.message == str(
            schema.FieldError("steps", schema.field("steps").what())
        )
    else:
        raise AssertionError("steps 0 was accepted")


def test_generate_request_has_the_pipeline_fields_and_defaults():
    from mfmjt_core.pipeline.types import GenerateRequest

    got = {f.name: f.default for f in dataclasses.fields(GenerateRequest)}
    assert got == {"video": None, **{f.name: f.default for f in schema.pipeline_fields()}}


def test_the_command_line_has_one_option_per_cli_field():
    from mfmjt_cli.entry import build_parser

    parser = build_parser()
    for command in ("generate", "client"):
        args = parser.parse_args([command, "-d", "2"])
        for spec in schema.cli_fields():
            expected = 2.0 if spec.name == "duration" else spec.default
            assert getattr(args, spec.name) == expected, (command, spec.name)


ADD_A_FIELD = textwrap.dedent('''
    import dataclasses, json, sys
    from mfmjt_schema import fields
    extra = fields.Field("wetness", "number", "how wet it sounds", default=0.5, low=0.0, high=1.0,
                         nullable=False, cli=("--wetness",))
    fields.FIELDS = fields.FIELDS + (extra,)

    from mfmjt_daemon import protocol, intake
    from mfmjt_daemon.client import Client
    from mfmjt_core.pipeline.types import GenerateRequest
    from mfmjt_cli.entry import build_parser
    from mfmjt_cli.commands.generate import request_fields

    out = {}
    header = {"op": "generate", "job": "j1", "duration": 2.0, "wetness": 0.75}
    message = protocol.decode(protocol.encode(header))
    parsed = protocol.parse_request(message)
    out["protocol"] = parsed.get("wetness")
    try:
        protocol.parse_request(protocol.decode(protocol.encode({**header, "wetness": 2.0})))
    except protocol.ProtocolError as exc:
        out["protocol_bound"] = exc.message
    limits = intake.IntakeLimits(600.0, 2**30, False)
    request, _ = intake.build_request(message, parsed, limits, None)
    out["intake"] = request.wetness
    out["default"] = GenerateRequest(duration=1.0).wetness
    args = build_parser().parse_args(["generate", "-d", "1", "--wetness", "0.25"])
    out["cli"] = request_fields(args)["wetness"]
    client = Client("tcp://127.0.0.1:9", timeout=0.1)
    job = client.submit(duration=1.0, wetness=0.5)
    out["client"] = json.loads(bytes(job._frames[0]))["wetness"]
    client.close()
    print(json.dumps(out))
''')


def test_adding_a_field_to_the_schema_reaches_every_part():
    done = subprocess.run([sys.executable, "-c", ADD_A_FIELD], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"protocol": 0.75, "protocol_bound": "field 'wetness' must be a number in [0, 1]",
                   "intake": 0.75, "default": 0.5, "cli": 0.25, "client": 0.5}
