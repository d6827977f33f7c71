cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs:
  file: {type: File, inputBinding: {position: 1}}
  count: {type: int, default: 1}
stdout: copy.txt
outputs:
  out: stdout
