cwlVersion: v1.2
class: Workflow
doc: |
  A count-way scatter of noop-tool.cwl. The items are made by one expression, not
  read from an input file: cwltool's YAML loader needs seconds per 100,000 items.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  count: int
outputs:
  outs: {type: 'string[]', outputSource: echo/out}
steps:
  items:
    in: {count: count}
    out: [items]
    run:
      class: ExpressionTool
      requirements: {InlineJavascriptRequirement: {}}
      inputs: {count: int}
      outputs: {items: 'string[]'}
      expression: |
        ${ var a = []; for (var i = 0; i < inputs.count; i++) { a.push(String(i)); } return {"items": a}; }
  echo:
    scatter: message
    in: {message: items/items}
    out: [out]
    run: noop-tool.cwl
