cwlVersion: v1.2
class: CommandLineTool
doc: A tool whose output needs no file, for the noop benchmark backend.
baseCommand: "true"
inputs:
  message: {type: string, inputBinding: {position: 1}}
outputs:
  out: {type: string, outputBinding: {outputEval: $(inputs.message)}}
