cwlVersion: v1.2
class: CommandLineTool
doc: File inputs, bound and not; the staged path and the file's fields in outputEval
baseCommand: [sh, -c, 'cat "$0" && echo "$1"']
inputs:
  f: {type: File, inputBinding: {position: 1}}
  g: {type: "File?", inputBinding: {position: 2, prefix: "--g=", separate: false}}
  h: File?
stdout: out.txt
outputs:
  out: stdout
  where: {type: string, outputBinding: {outputEval: "$(inputs.f.path)"}}
  name: {type: string, outputBinding: {outputEval: "$(inputs.f.basename)/$(inputs.f.nameroot)/$(inputs.f.nameext)/$(inputs.f.size)"}}
