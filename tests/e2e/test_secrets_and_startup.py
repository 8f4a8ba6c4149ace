"""Configuration at cold start, with the real binaries: secrets read from Secrets
Manager (moto_server standing in for AWS), and bad settings stopping the function with
a message that names the variable."""

import json
import os
import socket
import subprocess
import time
import uuid

import boto3
from lambda_runtime import ROOT, Function, event, free_port

AUTH = ROOT / "target/debug/auth"


def lambda_env(**extra):
    return {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1", "AWS_LAMBDA_FUNCTION_NAME": "auth",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "PATH": os.environ["PATH"], **extra}


def test_secrets_come_from_secrets_manager(api):
    port = free_port()
    moto = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        aws = dict(AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        # One as JSON (as RDS-style rotation would store it), one plain.
        db_arn = sm.create_secret(Name="todo/database",
                                  SecretString=json.dumps({"DATABASE_URL": os.environ["DATABASE_URL"]}))["ARN"]
        key_arn = sm.create_secret(Name="todo/auth", SecretString=os.environ["BETTER_AUTH_SECRET"])["ARN"]

        fn = Function(AUTH, {**aws, "DATABASE_URL_SECRET_ARN": db_arn, "BETTER_AUTH_SECRET_ARN": key_arn})
        try:
            name = "sm" + uuid.uuid4().hex[:10]
            _, r = fn.call(event("POST", "/api/auth/signup", {
                "username": name, "email": f"{name}@example.com",
                "password": "s3cret-pass", "confirm_password": "s3cret-pass"}))
        finally:
            fn.stop()
        assert r["statusCode"] == 201, r
        session = json.loads(r["body"])
        # The API started with BETTER_AUTH_SECRET directly accepts the token: same key.
        uid, token = session["user"]["id"], session["access_token"]
        assert api("GET", f"/api/{uid}/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200

        # A secret that does not exist stops the function at start, naming it.
        out = subprocess.run([str(AUTH)], env=lambda_env(**aws, DATABASE_URL=os.environ["DATABASE_URL"],
                             BETTER_AUTH_SECRET_ARN=key_arn + "-missing"),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0
        assert "BETTER_AUTH_SECRET" in out.stderr
    finally:
        moto.terminate()
        moto.wait()


def test_bad_settings_stop_the_function_naming_the_variable():
    cases = [
        ({"BETTER_AUTH_SECRET": "x" * 40}, "DATABASE_URL"),
        ({"DATABASE_URL": os.environ["DATABASE_URL"], "BETTER_AUTH_SECRET": "too-short-secret"}, "BETTER_AUTH_SECRET"),
        ({"DATABASE_URL": os.environ["DATABASE_URL"], "BETTER_AUTH_SECRET": "x" * 40, "BCRYPT_COST": "31"}, "BCRYPT_COST"),
    ]
    for env, name in cases:
        out = subprocess.run([str(AUTH)], env=lambda_env(**env), capture_output=True, text=True, timeout=60)
        assert out.returncode != 0, env
        assert name in out.stderr, out.stderr
        assert "too-short-secret" not in out.stderr, "secrets never reach logs"
