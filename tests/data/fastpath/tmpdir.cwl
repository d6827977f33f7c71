cwlVersion: v1.2
class: Workflow
doc: |
  A scatter of a planned tool that lists its TMPDIR, then leaves a file (and, for
  some items, a folder) there: every job must still find an empty TMPDIR.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: string[]
outputs:
  out: {type: 'File[]', outputSource: look/out}
steps:
  look:
    scatter: item
    in: {item: items}
    out: [out]
    run:
      class: CommandLineTool
      baseCommand: [sh, -c]
      arguments:
        - 'ls -A "$TMPDIR"; test -d "$TMPDIR" && test -w "$TMPDIR" && echo ok; echo "$1" > "$TMPDIR/left"; case "$1" in *3) mkdir "$TMPDIR/d"; chmod 500 "$TMPDIR/d";; esac'
        - sh
      inputs:
        item: {type: string, inputBinding: {position: 1}}
      stdout: out.txt
      outputs:
        out: stdout
