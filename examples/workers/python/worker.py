#!/usr/bin/env python3
"""A hookrelay worker in Python, standard library only: claims jobs of your remote job types and runs them.

Copy this file and replace handle() with your work; the plumbing below it claims jobs (a long poll), keeps
each attempt's lease alive with heartbeats that carry your progress, reports the result or the failure, and
stops gracefully on SIGTERM or Ctrl-C (no new claims; running tasks finish; exit 0).

    HOOKRELAY_KEY=hr_... python3 worker.py --type report.python [--type other] [--concurrency 4]

HOOKRELAY_URL (or --url) is the service, default http://localhost:3000. HOOKRELAY_KEY (or --key) is a worker
key (POST /v1/admin/tenants/:id/keys {"role": "worker"}) or a tenant key. Python 3.8 or later.
"""

import argparse
import email.utils
import http.client
import json
import logging
import os
import platform
import random
import signal
import socket
import ssl
import sys
import threading
import time
from datetime import datetime
from urllib.parse import quote, urlsplit

# ----------------------------------------------------------------------------------------------------------
# Your work. Replace handle(); keep its signature.
# ----------------------------------------------------------------------------------------------------------


class PermanentError(Exception):
    """Raise it to fail the job at once: no retry will change the outcome (bad input, a refused request)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class RetryLater(Exception):
    """Raise it to fail this attempt and have the next one no sooner than `seconds` from now."""

    def __init__(self, message, seconds):
        super().__init__(message)
        self.seconds = seconds


def handle(task, progress):
    """Runs one attempt of a job and returns its result (anything JSON can hold).

    task.input is the job's input (checked by the type's inputSchema when it was submitted); task.job_id,
    task.type, task.attempt, task.max_attempts, task.metadata and task.deadline (RFC 3339) describe it.
    progress(percent, message=None) reports progress, 0 to 100 (to the job's event stream and webhooks).
    When the attempt is over for this worker (the job was cancelled, its lease was lost, its deadline passed)
    task.stopped is set, and progress() and task.sleep() raise Stopped: let it propagate. Any other exception
    fails the attempt and the job is retried with backoff; PermanentError fails the job at once.
    """
    if "fail" in task.input:
        raise PermanentError(str(task.input["fail"]))
    steps = int(task.input.get("steps", 5))
    step_ms = int(task.input.get("stepMs", 200))
    for step in range(1, steps + 1):
        task.sleep(step_ms / 1000)  # stands in for one step of real work
        progress(round(step * 100 / steps), "step {} of {}".format(step, steps))
    return {"steps": steps, "language": "python", "python": platform.python_version()}


# ----------------------------------------------------------------------------------------------------------
# The plumbing: claim, heartbeat, report, stop. Nothing below needs changing for your own work.
# ----------------------------------------------------------------------------------------------------------


WAIT_SECONDS = 30  # how long one claim waits on the server for a job (a long poll)
PROGRESS_EVERY = 0.5  # at most one heartbeat per this many seconds for progress alone
REPORT_TIMEOUT = 30  # one complete/fail request's time limit
LEASE_MARGIN = 0.5  # a task whose heartbeats do not get through stops this long before its lease could end
USER_AGENT = "hookrelay-python-worker/1 (Python {})".format(platform.python_version())

log = logging.getLogger("hookrelay-worker")


class Stopped(Exception):
    """The attempt is over for this worker (cancelled, lease lost, deadline passed): stop without a result."""


class ConfigError(Exception):
    """A setting the worker cannot run with: it exits 2."""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def problem(self):
        """The problem+json title and detail, for log lines."""
        if not isinstance(self.body, dict):
            return ""
        title, detail = self.body.get("title"), self.body.get("detail")
        return "{} ({})".format(title, detail) if title and detail else str(title or detail or "")

    def retry_after(self):
        """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
        value = self.headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None

    def retryable(self):
        return self.status == 429 or self.status >= 500


class Clock:
    """The server's clock, from its answers' Date header, so that a skewed local clock does not cut leases."""

    def __init__(self):
        self.offset = 0.0
        self.lock = threading.Lock()

    def observe(self, date_header):
        if not date_header:
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError):
            return
        with self.lock:
            # Date has whole seconds: the server's time was up to one later. Taking the end of that second means a
            # lease never looks longer here than it is.
            self.offset = server + 1.0 - time.time()

    def seconds_until(self, rfc3339):
        """Seconds from now until an RFC 3339 time the server gave (negative when past)."""
        when = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
        with self.lock:
            return when - (time.time() + self.offset)


class Client:
    """One JSON request per connection to the service; network errors raise OSError or HTTPException."""

    def __init__(self, url, key):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("--url must be an http(s) URL, not {!r}".format(url))
        self.parts = parts
        self.prefix = parts.path.rstrip("/")
        self.key = key
        self.clock = Clock()
        self.context = ssl.create_default_context() if parts.scheme == "https" else None

    def connection(self, timeout):
        if self.context:
            return http.client.HTTPSConnection(
                self.parts.hostname, self.parts.port, timeout=timeout, context=self.context
            )
        return http.client.HTTPConnection(self.parts.hostname, self.parts.port, timeout=timeout)

    def post(self, path, body, timeout, authorized=True, on_connection=None):
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if authorized:
            headers["authorization"] = "Bearer " + self.key
        connection = self.connection(timeout)
        try:
            if on_connection:
                connection.connect()
                on_connection(connection)  # may raise to abandon the request
            connection.request("POST", self.prefix + path, json.dumps(body, allow_nan=False), headers)
            answer = connection.getresponse()
            raw = answer.read()
            response_headers = {name.lower(): value for name, value in answer.getheaders()}
        finally:
            connection.close()
        self.clock.observe(response_headers.get("date"))
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")[:200]
        return Response(answer.status, response_headers, parsed)


def backoff(failures, retry_after=None):
    """Seconds to wait after `failures` failures in a row: Retry-After if given, else 1 s doubling to 30 s."""
    if retry_after is not None:
        return min(retry_after, 300.0)
    return min(30.0, 2.0 ** (failures - 1)) * random.uniform(0.8, 1.2)


class Task:
    """One claimed attempt, as handle() sees it."""

    def __init__(self, claimed):
        self.job_id = claimed["jobId"]
        self.type = claimed["type"]
        self.input = claimed.get("input")
        self.attempt = claimed.get("attempt")
        self.max_attempts = claimed.get("maxAttempts")
        self.metadata = claimed.get("metadata") or {}
        self.deadline = claimed["deadline"]
        self.stopped = threading.Event()
        self.stop_reason = None

    def sleep(self, seconds):
        """Waits `seconds`, or raises Stopped as soon as the attempt is over for this worker."""
        if self.stopped.wait(seconds):
            raise Stopped(self.stop_reason)

    def __repr__(self):
        return "<Task {} {} attempt {}/{}>".format(self.type, self.job_id, self.attempt, self.max_attempts)


class Attempt:
    """Runs one task: handle() in this thread, its heartbeats in another, then its one report."""

    def __init__(self, client, claimed):
        self.client = client
        self.task = Task(claimed)
        self.token_path = "/v1/tasks/" + quote(claimed["taskToken"], safe="")
        self.label = "job {} ({} attempt {}/{})".format(
            self.task.job_id, self.task.type, self.task.attempt, self.task.max_attempts
        )
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.finished = threading.Event()
        self.pending = None  # progress not yet sent: {"percent", "message"?}
        self.progress_sent_at = float("-inf")
        self.lease_ends = time.monotonic()
        self.next_beat = time.monotonic()
        self.deadline = time.monotonic() + client.clock.seconds_until(claimed["deadline"])
        self.extend_lease(claimed["leaseExpiresAt"])

    def extend_lease(self, lease_expires_at):
        left = self.client.clock.seconds_until(lease_expires_at)
        now = time.monotonic()
        self.lease_ends = now + left
        self.next_beat = now + max(0.5, left / 3)  # a third of what is left: two more tries before it ends

    def stop(self, reason):
        if not self.task.stopped.is_set():
            self.task.stop_reason = reason
            self.task.stopped.set()
            log.warning("%s: stopping, %s", self.label, reason)

    def progress(self, percent, message=None):
        if self.task.stopped.is_set():
            raise Stopped(self.task.stop_reason)
        if not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
            raise ValueError("progress percent must be a number from 0 to 100, not {!r}".format(percent))
        update = {"percent": percent}
        if message is not None:
            update["message"] = str(message)[:500]  # the service keeps 500 characters
        with self.lock:
            self.pending = update
        self.wake.set()

    def run(self):
        log.info("%s: started", self.label)
        started = time.monotonic()
        beats = threading.Thread(target=self.heartbeats, name="heartbeat " + self.task.job_id, daemon=True)
        beats.start()
        outcome = None
        try:
            result = handle(self.task, self.progress)
            json.dumps(result, allow_nan=False)  # a result JSON cannot hold fails here, as a handler error
            outcome = ("complete", {"result": result}, "succeeded", "")
        except Stopped as error:
            if not self.task.stopped.is_set():  # raised by the handler itself: a failure like any other
                outcome = ("fail", failure(error, retry=True), "failed", ": {}".format(error))
        except PermanentError as error:
            outcome = ("fail", failure(error, retry=False), "failed for good", ": {}".format(error))
        except RetryLater as error:
            body = failure(error, retry=True)
            body["retryAfterSeconds"] = min(max(0, error.seconds), 86400)
            outcome = ("fail", body, "failed", ": {}".format(error))
        except Exception as error:  # any failure of the handler is the attempt's outcome
            log.exception("%s: the handler raised", self.label)
            outcome = ("fail", failure(error, retry=True), "failed", ": {}".format(error))
        self.finished.set()
        self.wake.set()
        beats.join()
        took = time.monotonic() - started
        if self.task.stopped.is_set():
            if outcome:
                log.info("%s: ended after %.1f s; not reported (%s)", self.label, took, self.task.stop_reason)
            return
        verb, body, said, detail = outcome
        if verb == "complete":
            self.flush_progress()
        answer = self.report(verb, body)
        if answer is None:
            return
        if verb == "fail" and isinstance(answer.body, dict):
            status = answer.body.get("status")
            if status == "queued":
                detail += "; next attempt at {}".format(answer.body.get("nextAttemptAt"))
            else:
                detail += "; the job is {}".format(status)
        log.info("%s: %s after %.1f s%s", self.label, said, took, detail)

    def heartbeats(self):
        """Extends the lease at a third of the time left; sends progress (at most every PROGRESS_EVERY)."""
        failures = 0
        while not self.finished.is_set() and not self.task.stopped.is_set():
            now = time.monotonic()
            if now >= self.deadline:
                return self.stop("its deadline ({}) passed".format(self.task.deadline))
            if now >= self.lease_ends - LEASE_MARGIN:
                return self.stop("no heartbeat got through before the lease could end; it will be retried")
            due = self.next_beat
            with self.lock:
                if self.pending is not None and failures == 0:
                    due = min(due, self.progress_sent_at + PROGRESS_EVERY)
            if now < due:
                self.wake.wait(min(due, self.deadline) - now)
                self.wake.clear()
                continue
            with self.lock:
                sent = self.pending
            left = self.lease_ends - now
            try:
                response = self.client.post(
                    self.token_path + "/heartbeat",
                    {"progress": sent} if sent else {},
                    timeout=max(1.0, min(10.0, left / 2)),
                    authorized=False,
                )
            except (OSError, http.client.HTTPException) as error:
                failures += 1
                self.next_beat = now + min(backoff(failures), max(0.5, left / 3))
                log.warning("%s: heartbeat failed (%s); trying again", self.label, error)
                continue
            if response.status == 200:
                failures = 0
                self.extend_lease(response.body["leaseExpiresAt"])
                if sent:
                    self.progress_sent_at = time.monotonic()
                    with self.lock:
                        if self.pending is sent:
                            self.pending = None
            elif response.status in (404, 409):
                return self.stop(response.problem() or "the attempt is no longer this worker's")
            elif response.retryable():
                failures += 1
                wait = backoff(failures, response.retry_after())
                self.next_beat = now + min(wait, max(0.5, left / 3))
                log.warning("%s: heartbeat answered %s; trying again", self.label, response.status)
            else:
                # Refused for its body (a progress the server will not take): drop it, keep the lease.
                log.error("%s: heartbeat refused (%s %s)", self.label, response.status, response.problem())
                with self.lock:
                    if self.pending is sent:
                        self.pending = None
                self.next_beat = now + max(0.5, left / 3)
        return None

    def flush_progress(self):
        """Sends the last progress not sent yet (the final step's), so that the job ends showing it."""
        with self.lock:
            sent = self.pending
        if sent is None:
            return
        try:
            self.client.post(self.token_path + "/heartbeat", {"progress": sent}, timeout=5, authorized=False)
        except (OSError, http.client.HTTPException):
            pass

    def report(self, verb, body):
        """Sends complete or fail, again on network errors, 429 and 5xx while the lease may still hold.

        Returns the answer when the report was taken, else None.
        """
        failures = 0
        while True:
            try:
                response = self.client.post(
                    "{}/{}".format(self.token_path, verb), body, timeout=REPORT_TIMEOUT, authorized=False
                )
                if response.status == 200:
                    return response
                if response.status in (404, 409):
                    log.warning("%s: %s not taken: %s", self.label, verb, response.problem())
                    return None
                if not response.retryable():
                    log.error("%s: %s refused: %s %s", self.label, verb, response.status, response.problem())
                    return None
                problem, retry_after = "answered {}".format(response.status), response.retry_after()
            except (OSError, http.client.HTTPException) as error:
                problem, retry_after = str(error), None
            failures += 1
            wait = backoff(failures, retry_after)
            if time.monotonic() + wait >= self.lease_ends:
                log.error("%s: %s %s; the lease ends before another try, so hookrelay will retry the job",
                          self.label, verb, problem)
                return None
            log.warning("%s: %s %s; trying again in %.1f s", self.label, verb, problem, wait)
            time.sleep(wait)


def failure(error, retry):
    """A fail report's body: the message, and a code (yours, or an unexpected exception's class name)."""
    code = getattr(error, "code", None)
    if code is None and not isinstance(error, (PermanentError, RetryLater)):
        code = type(error).__name__
    body = {"error": {"message": (str(error) or type(error).__name__)[:1000]}, "retry": retry}
    if code:
        body["error"]["code"] = str(code)[:100]
    return body


class Worker:
    """Claims jobs while it has free slots, runs each in a thread, and stops claiming when asked."""

    def __init__(self, client, types, concurrency):
        self.client = client
        self.types = types
        self.concurrency = concurrency
        self.stopping = threading.Event()
        self.slots = threading.Condition()
        self.running = set()
        self.claim_connection = None
        self.claim_lock = threading.Lock()
        self.fatal = None

    def claim_loop(self):
        failures = 0
        while not self.stopping.is_set():
            with self.slots:
                while len(self.running) >= self.concurrency and not self.stopping.is_set():
                    self.slots.wait()
                free = self.concurrency - len(self.running)
            if self.stopping.is_set():
                return
            try:
                response = self.client.post(
                    "/v1/worker/claim",
                    {"types": self.types, "max": free, "waitSeconds": WAIT_SECONDS},
                    timeout=WAIT_SECONDS + 30,
                    on_connection=self.holding,
                )
            except (Stopped, OSError, http.client.HTTPException) as error:
                if self.stopping.is_set():
                    return
                failures += 1
                wait = backoff(failures)
                log.warning("claim failed (%s); trying again in %.1f s", error, wait)
                self.stopping.wait(wait)
                continue
            finally:
                self.holding(None)
            if response.status == 200:
                failures = 0
                for claimed in response.body["data"]:
                    self.start(claimed)  # even when stopping: these are leased to us now
            elif response.retryable():
                failures += 1
                wait = backoff(failures, response.retry_after())
                log.warning("claim answered %s %s; trying again in %.1f s",
                            response.status, response.problem(), wait)
                self.stopping.wait(wait)
            else:
                self.fatal = "claim refused: {} {}".format(response.status, response.problem())
                self.stopping.set()
                return

    def holding(self, connection):
        """Keeps the claim's connection where stop() can end it; a claim about to start after stop() won't."""
        with self.claim_lock:
            if connection is not None and self.stopping.is_set():
                raise Stopped("the worker is stopping")
            self.claim_connection = connection

    def start(self, claimed):
        attempt = Attempt(self.client, claimed)
        thread = threading.Thread(target=self.run, args=(attempt,), name=attempt.task.job_id)
        with self.slots:
            self.running.add(thread)
        thread.start()

    def run(self, attempt):
        try:
            attempt.run()
        except Exception:  # a bug in the plumbing must not keep its slot
            log.exception("%s: the worker failed", attempt.label)
        finally:
            with self.slots:
                self.running.discard(threading.current_thread())
                self.slots.notify_all()

    def stop(self, claims):
        """Stops claiming (ending a claim that waits), then waits for the running tasks to finish.

        A claim the server answers in the instant its connection is shut is lost to this worker: its jobs wait
        out their lease and are retried, that attempt counted.
        """
        with self.claim_lock:
            self.stopping.set()
            connection = self.claim_connection
        with self.slots:
            self.slots.notify_all()
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        claims.join()
        with self.slots:
            running = list(self.running)
        if running:
            log.info("stopping: no more claims; waiting for %d running task(s) to finish", len(running))
        for thread in running:
            thread.join()


def main():
    parser = argparse.ArgumentParser(description="Run hookrelay jobs of your remote job types.")
    parser.add_argument("--url", default=os.environ.get("HOOKRELAY_URL", "http://localhost:3000"),
                        help="the hookrelay service (env HOOKRELAY_URL; default http://localhost:3000)")
    parser.add_argument("--key", default=os.environ.get("HOOKRELAY_KEY"),
                        help="a worker key, or a tenant key (env HOOKRELAY_KEY)")
    parser.add_argument("--type", dest="types", action="append", required=True, metavar="NAME",
                        help="a remote job type to claim (repeat for more)")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="tasks run at once, each in a thread (default 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.key:
        parser.error("no key: set HOOKRELAY_KEY or pass --key")
    if not 1 <= args.concurrency <= 100:
        parser.error("--concurrency must be 1 to 100")
    try:
        worker = Worker(Client(args.url, args.key), args.types, args.concurrency)
    except ConfigError as error:
        parser.error(str(error))

    signals = []  # (monotonic time, signal number)

    def on_signal(number, _frame):
        # A second signal, not a copy arriving with the first (as from a terminal and a supervisor), exits at
        # once: the running attempts then lose their leases and hookrelay retries them. No logging here: a
        # handler that takes the logging lock the interrupted code holds would never return.
        if signals and time.monotonic() - signals[0][0] > 1:
            os.write(2, b"hookrelay-worker: second signal, exiting now\n")
            os._exit(1)
        signals.append((time.monotonic(), number))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log.info("claiming %s at %s, %d at a time", ", ".join(args.types), args.url, args.concurrency)
    claims = threading.Thread(target=worker.claim_loop, name="claims", daemon=True)
    claims.start()
    # Signal handlers run in this thread; it only watches, so the stop below runs outside a handler.
    while not signals and claims.is_alive():
        time.sleep(0.2)
    if signals:
        log.info("%s: stopping", signal.Signals(signals[0][1]).name)
    worker.stop(claims)
    if worker.fatal:
        log.error("%s; stopping", worker.fatal)
        sys.exit(2)
    log.info("stopped")


if __name__ == "__main__":
    main()
