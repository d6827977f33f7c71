cwlVersion: v1.2
class: CommandLineTool
doc: |
  Fails its first `fails` runs (counted in the file `state`) in the way `mode` says, then prints "ok".
  Modes: exit1, exit3 (a permanentFailCode), exit75 (a temporaryFailCode), sigkill (killed by
  SIGKILL), segv (crashes), killworker (SIGKILLs its parent: the worker process with --worker-process).
requirements:
  ResourceRequirement: {coresMin: 0.1, ramMin: 16}
temporaryFailCodes: [75]
permanentFailCodes: [3]
inputs:
  mode: string
  state: string
  fails: {type: int, default: 1}
baseCommand: [sh, -c]
arguments:
  - |
    n=`cat "$1" 2>/dev/null || echo 0`; n=`expr $n + 1`; echo $n > "$1"
    if [ "$n" -le "$2" ]; then
      echo "attempt $n fails: $0" >&2
      case "$0" in
        exit1) exit 1;;
        exit3) exit 3;;
        exit75) exit 75;;
        sigkill) kill -9 $$;;
        segv) kill -SEGV $$;;
        killworker) kill -9 $PPID; sleep 5;;
      esac
    fi
    echo ok
  - $(inputs.mode)
  - $(inputs.state)
  - $(inputs.fails)
stdout: out.txt
outputs:
  out: stdout
