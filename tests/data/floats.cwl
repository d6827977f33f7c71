cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  small: {type: float, default: 0.00001, inputBinding: {position: 1}}
  big: {type: float, default: 1230000, inputBinding: {position: 2}}
stdout: out.txt
outputs:
  out: stdout
