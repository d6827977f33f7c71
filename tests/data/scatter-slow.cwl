cwlVersion: v1.2
class: Workflow
doc: One short job (0.3 s) per value; each prints its value.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  values: string[]
outputs:
  out: {type: 'File[]', outputSource: s/out}
steps:
  s:
    run:
      class: CommandLineTool
      requirements:
        ResourceRequirement: {coresMin: 0.1, ramMin: 16}
      inputs:
        value: {type: string, inputBinding: {position: 1}}
      baseCommand: [sh, -c, 'sleep 0.3; echo "$0"']
      stdout: out.txt
      outputs:
        out: stdout
    scatter: value
    in: {value: values}
    out: [out]
