"""The Flask service devops-info replaces, as a benchmark peer: GET / (service,
system, runtime, request and endpoints), GET /health, JSON 404, one log line
per request; HOST and PORT from the environment (0.0.0.0:5000 by default).

    python3 -m gunicorn -w 2 -k gthread --threads 4 -b 127.0.0.1:PORT flask_app:app
    HOST=127.0.0.1 PORT=8000 python3 flask_app.py      # Werkzeug's server

Debian 12: python3-flask 2.2 and gunicorn 20.1 (bench/run.sh installs them).
"""
import logging
import os
import platform
import socket
import time
from datetime import datetime, timezone

from flask import Flask, jsonify, request

app = Flask(__name__)
STARTED = time.time()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("devops-info-peer")

ENDPOINTS = [
    {"path": "/", "method": "GET", "description": "Service information"},
    {"path": "/health", "method": "GET", "description": "Health check"},
]


def uptime():
    seconds = int(time.time() - STARTED)
    return seconds, f"{seconds // 3600} hours, {(seconds % 3600) // 60} minutes"


@app.get("/")
def index():
    seconds, human = uptime()
    return jsonify({
        "service": {"name": "devops-info-service", "version": "1.0.0",
                    "description": "DevOps course info service", "framework": "Flask"},
        "system": {"hostname": socket.gethostname(), "platform": platform.system(),
                   "platform_version": platform.version(), "architecture": platform.machine(),
                   "cpu_count": os.cpu_count(), "python_version": platform.python_version()},
        "runtime": {"uptime_seconds": seconds, "uptime_human": human,
                    "current_time": datetime.now(timezone.utc).isoformat(), "timezone": "UTC"},
        "request": {"client_ip": request.remote_addr, "user_agent": request.headers.get("User-Agent"),
                    "method": request.method, "path": request.path},
        "endpoints": ENDPOINTS,
    })


@app.get("/health")
def health():
    return jsonify({"status": "healthy", "timestamp": datetime.now(timezone.utc).isoformat(),
                    "uptime_seconds": uptime()[0]})


@app.errorhandler(404)
def not_found(_error):
    return jsonify({"error": "Not Found", "message": "Endpoint does not exist"}), 404


@app.after_request
def log_request(response):
    log.info("%s %s %s %s", request.remote_addr, request.method, request.path, response.status_code)
    return response


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "5000")), threaded=True)
