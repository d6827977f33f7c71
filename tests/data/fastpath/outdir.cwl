cwlVersion: v1.2
class: Workflow
doc: |
  A scatter of a planned tool that lists its working directory (its outdir), checks
  that HOME is that directory, and leaves files there besides its two outputs (and,
  for some items, a folder it cannot write to): every job must still start in an
  empty directory. An item ending in 9 exits 3.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: string[]
outputs:
  out: {type: 'File[]', outputSource: look/out}
  kept: {type: 'File[]', outputSource: look/kept}
steps:
  look:
    scatter: item
    in: {item: items}
    out: [out, kept]
    run:
      class: CommandLineTool
      baseCommand: [sh, -c]
      arguments:
        - 'ls -A; test "$HOME" = "$PWD" && echo home; echo "$1" > kept.txt; echo x > junk; case "$1" in *3) mkdir d; chmod 500 d;; *9) exit 3;; esac'
        - sh
      inputs:
        item: {type: string, inputBinding: {position: 1}}
      stdout: out.txt
      outputs:
        out: stdout
        kept: {type: File, outputBinding: {glob: kept.txt}}
