cwlVersion: v1.2
class: CommandLineTool
doc: Copies FILE to out.txt and appends TAG; logs "start TAG" / "end TAG" to a side channel.
baseCommand: [sh, -c]
arguments:
  - 'echo "start $2" >> "$1"; cat "$0" > out.txt; printf %s "$2" >> out.txt; echo "end $2" >> "$1"'
  - $(inputs.file.path)
  - $(inputs.log)
  - $(inputs.tag)
inputs:
  file: File
  log: string
  tag: string
outputs:
  file: {type: File, outputBinding: {glob: out.txt}}
