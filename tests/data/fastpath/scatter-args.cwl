cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  s: string[]
  n: int[]
  flag: boolean[]
  off: ["null", {type: array, items: ["null", boolean]}]
  opt: {type: {type: array, items: ["null", string]}}
outputs:
  out: {type: 'File[]', outputSource: args/out}
steps:
  args:
    run: args.cwl
    scatter: [s, n, flag, opt]
    scatterMethod: dotproduct
    in: {s: s, n: n, flag: flag, opt: opt, big: {default: 4294967296}, unbound: {default: u}}
    out: [out]
