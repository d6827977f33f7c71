cwlVersion: v1.2
class: CommandLineTool
doc: outputs computed by outputEval from the file the command wrote
baseCommand: echo
inputs:
  message: {type: string, inputBinding: {}}
  maybe: "string?"
  flag: {type: boolean, default: true}
stdout: out.txt
outputs:
  text: {type: string, outputBinding: {glob: out.txt, loadContents: true, outputEval: "$(self[0].contents)"}}
  size: {type: int, outputBinding: {glob: out.txt, outputEval: "$(self[0].size)"}}
  name: {type: string, outputBinding: {glob: out.txt, outputEval: "$(self[0].basename)"}}
  code: {type: int, outputBinding: {outputEval: "$(runtime.exitCode)"}}
  echo: {type: "string?", outputBinding: {outputEval: "$(inputs.maybe)"}}
  flag: {type: boolean, outputBinding: {outputEval: "$(inputs.flag)"}}
  cores: {type: int, outputBinding: {outputEval: "$(runtime.cores)"}}
