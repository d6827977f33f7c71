#!/usr/bin/env runner-cwl
cwlVersion: v1.2
class: Workflow
doc: Count the lines of each input file in parallel, then add the counts up.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  files: File[]
outputs:
  counts:
    type: File[]
    outputSource: count/counts
  total:
    type: File
    outputSource: add/total
steps:
  count:
    scatter: file
    in: {file: files}
    out: [counts]
    run:
      class: CommandLineTool
      baseCommand: [wc, -l]
      inputs:
        file: File
      stdin: $(inputs.file.path)
      stdout: $(inputs.file.nameroot).count
      outputs:
        counts: stdout
  add:
    in: {counts: count/counts}
    out: [total]
    run:
      class: CommandLineTool
      baseCommand: [awk, '{s += $1} END {print s}']
      inputs:
        counts: {type: 'File[]', inputBinding: {position: 1}}
      stdout: total.txt
      outputs:
        total: stdout
