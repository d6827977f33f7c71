cwlVersion: v1.2
class: CommandLineTool
doc: |
  Tries to report outputs from outside its output directory: `glob` is the output's
  glob; `link_to` is where the symbolic links `link` and `d/link` point; a non-empty
  `json` becomes cwl.output.json.
requirements:
  ResourceRequirement: {coresMin: 0.1, ramMin: 16}
inputs:
  glob: string
  link_to: {type: string, default: /nonexistent}
  json: {type: string, default: ""}
  given: File?
baseCommand: [sh, -c]
arguments:
  - 'echo inside > in.txt; mkdir d; echo inside > d/x.txt; ln -s "$0" link; ln -s "$0" d/link; if [ -n "$1" ]; then printf %s "$1" > cwl.output.json; fi'
  - $(inputs.link_to)
  - $(inputs.json)
outputs:
  out:
    type: Any
    outputBinding: {glob: $(inputs.glob)}
