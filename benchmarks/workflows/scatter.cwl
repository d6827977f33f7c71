cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: string[]
outputs:
  outs: {type: 'File[]', outputSource: echo/out}
steps:
  echo:
    scatter: message
    in: {message: items}
    out: [out]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        message: {type: string, inputBinding: {position: 1}}
      stdout: out.txt
      outputs:
        out: stdout
