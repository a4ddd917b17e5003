"""The trust boundary: the only code that imports student code.

`launch.run_job` (parent) starts `python -m grader.sandbox.worker JOB` confined as
`confine` says, hands it a `protocol.JobRequest` and reads back what it reported.
`worker` and `hooks` run in the child only: no module outside this package imports them
(tests/e2e/test_architecture.py checks it). The child may import the stages it needs
(inspection.facts, training, load.datasets); bubblewrap shows it the grader package
folder alone, so everything the child needs lives inside grader/. Without bubblewrap the
child confines itself first thing (`confine.enter`: `landlock`, `seccomp`, `uid`), and is
a fork of a server that imported torch once (`forkserver`) rather than a fresh Python; in
every mode it joins a cgroup of its run (`cgroup`) where the grader can make one.
"""
