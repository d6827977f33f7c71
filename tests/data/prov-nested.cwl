cwlVersion: v1.2
class: Workflow
doc: For --provenance tests - a scattered tool, an expression and a nested workflow.
requirements:
  ScatterFeatureRequirement: {}
  SubworkflowFeatureRequirement: {}
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
inputs:
  messages: string[]
outputs:
  outs: {type: 'File[]', outputSource: say/out}
  joined: {type: string, outputSource: join/joined}
  copied: {type: File, outputSource: inner/copied}
steps:
  say:
    run: echo.cwl
    scatter: message
    in: {message: messages}
    out: [out]
  join:
    in: {messages: messages}
    out: [joined]
    run:
      class: ExpressionTool
      inputs: {messages: 'string[]'}
      outputs: {joined: string}
      expression: '$({"joined": inputs.messages.join(" ")})'
  inner:
    in: {file: {source: say/out, valueFrom: '$(self[0])'}}
    out: [copied]
    run:
      class: Workflow
      inputs: {file: File}
      outputs: {copied: {type: File, outputSource: copy/out}}
      steps:
        copy:
          run: cat.cwl
          in: {file: file}
          out: [out]
