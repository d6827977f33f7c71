cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
arguments: ["echo about to fail >&2; echo the real reason >&2; exit 3"]
inputs: []
outputs:
  nothing: {type: "File?", outputBinding: {glob: nothing.txt}}
