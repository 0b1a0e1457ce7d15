# SPDX-License-Identifier: AGPL-3.0-or-later
"""Immich's nightly tasks inside `focal serve`: at nightlyTasks.startTime (local time) the enabled tasks queue
their jobs once a day, whichever of several processes on the database gets there first. The scheduling itself
(windows, midnight, once per day) is tested with an injected clock in tests/jobs."""

from __future__ import annotations

import time

from harness import db_rows, wait_until


def test_nightly_tasks_run_at_the_start_time_once_a_day(stack, tmp_path):
    data_dir = tmp_path / "data"
    env = stack.focal_env(data_dir, ml_port=1)  # no ML needed: the nightly jobs are local work
    stack.cli(env, "config", "set", "nightlyTasks.startTime", time.strftime("%H:%M", time.localtime(time.time() + 120)))
    serve, _ = stack.start_serve(env, "serve-not-yet")
    time.sleep(1)  # its first check has run
    assert db_rows(data_dir, "SELECT count(*) FROM job_schedule")[0][0] == 0  # two minutes early: nothing
    assert serve.stop() == 0, serve.log_tail()

    now = time.strftime("%H:%M")
    stack.cli(env, "config", "set", "nightlyTasks.startTime", now)
    stack.cli(env, "config", "set", "nightlyTasks.missingThumbnails", "false")
    serve, _ = stack.start_serve(env, "serve-nightly")
    try:
        wait_until(lambda: db_rows(data_dir, "SELECT last_run FROM job_schedule WHERE name = 'nightlyTasks'"),
                   30, "the nightly run")
        def completed_by_queue():  # once both nightly jobs are done (they run on two queues, in any order)
            done = dict(db_rows(data_dir, "SELECT queue, completed FROM job_queue WHERE completed > 0"))
            return done if {"backgroundTask", "facialRecognition"} <= done.keys() else None

        completed = wait_until(completed_by_queue, 30, "its jobs")
        assert completed.get("backgroundTask") == 1, completed  # PersonCleanup (databaseCleanup)
        assert completed.get("facialRecognition") == 1, completed  # FacialRecognitionQueueAll (clusterNewFaces)
        assert "thumbnailGeneration" not in completed, completed  # missingThumbnails is off
        assert "nightlyTasks: queueing 2 jobs" in serve.log_tail(20000)
    finally:
        assert serve.stop() == 0, serve.log_tail()
    # A restart the same day (or a second process) does not run the day again.
    again, _ = stack.start_serve(env, "serve-again")
    time.sleep(1)
    assert again.stop() == 0, again.log_tail()
    assert "nightlyTasks: queueing" not in again.log_tail(20000)
    assert db_rows(data_dir, "SELECT sum(completed) FROM job_queue")[0][0] == 2
