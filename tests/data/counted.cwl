cwlVersion: v1.2
class: CommandLineTool
doc: Writes PREFIX+VALUE to out.txt; logs "start TAG" and "end TAG" to a side channel.
baseCommand: [sh, -c]
arguments:
  - 'echo "start $0" >> "$1"; printf %s "$0" > out.txt; echo "end $0" >> "$1"'
  - $(inputs.prefix)$(inputs.value)
  - $(inputs.log)
inputs:
  prefix: string
  value: string
  log: string
outputs:
  text:
    type: string
    outputBinding: {glob: out.txt, loadContents: true, outputEval: "$(self[0].contents)"}
  file:
    type: File
    outputBinding: {glob: out.txt}
