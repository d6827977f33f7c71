cwlVersion: v1.2
class: Workflow
doc: A scatter of sleeps (each also allocates a little memory), then one step that gathers their outputs.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  seconds: float[]
outputs:
  all: {type: File, outputSource: gather/all}
steps:
  work:
    run: sleep.cwl
    scatter: seconds
    in: {seconds: seconds}
    out: [times]
  gather:
    in: {files: work/times}
    out: [all]
    run:
      class: CommandLineTool
      baseCommand: cat
      inputs:
        files: {type: 'File[]', inputBinding: {position: 1}}
      stdout: all.txt
      outputs:
        all: stdout
