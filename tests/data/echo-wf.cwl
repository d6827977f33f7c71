cwlVersion: v1.2
class: Workflow
inputs:
  message: string
outputs:
  out: {type: File, outputSource: echo/out}
steps:
  echo:
    run: echo.cwl
    in: {message: message}
    out: [out]
