cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
  SubworkflowFeatureRequirement: {}
inputs:
  items: string[]
outputs:
  outs: {type: 'string[]', outputSource: sub/out}
steps:
  sub:
    scatter: message
    in: {message: items}
    out: [out]
    run:
      class: Workflow
      inputs:
        message: string
      outputs:
        out: {type: string, outputSource: d/out}
      steps:
        a: {run: pass.cwl, in: {message: message}, out: [out]}
        b: {run: pass.cwl, in: {message: a/out}, out: [out]}
        c: {run: pass.cwl, in: {message: b/out}, out: [out]}
        d: {run: pass.cwl, in: {message: c/out}, out: [out]}
