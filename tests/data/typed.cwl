cwlVersion: v1.2
class: CommandLineTool
doc: Inputs of many types, for the input-object fuzz test. Never meant to run.
requirements:
  ResourceRequirement: {coresMin: 0.1, ramMin: 16}
inputs:
  n: int
  x: float
  s: string
  f: File
  d: Directory?
  flags: boolean[]
  mode: {type: {type: enum, symbols: [fast, slow]}}
  rec:
    type:
      - "null"
      - type: record
        fields:
          a: int
          b: string?
baseCommand: "true"
outputs: []
