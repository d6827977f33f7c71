cwlVersion: v1.2
class: Workflow
requirements:
  StepInputExpressionRequirement: {}
inputs: []
outputs:
  good: {type: File, outputSource: after_good/out}
steps:
  bad:
    run: fail.cwl
    in: {}
    out: [nothing]
  slow_good:
    run: sleep.cwl
    in: {seconds: {default: 0.5}}
    out: [times]
  after_good:
    run: echo.cwl
    in:
      message: {source: slow_good/times, valueFrom: "after"}
    out: [out]
  after_bad:
    run: echo.cwl
    in:
      message: {source: bad/nothing, valueFrom: "never"}
    out: [out]
