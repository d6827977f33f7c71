cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  seconds: float[]
  cores: {type: int, default: 1}
outputs:
  times: {type: 'File[]', outputSource: sleep/times}
steps:
  sleep:
    run: sleep.cwl
    scatter: seconds
    in: {seconds: seconds, cores: cores}
    out: [times]
