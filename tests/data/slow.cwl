cwlVersion: v1.2
class: CommandLineTool
requirements:
  ToolTimeLimit: {timelimit: 2}
baseCommand: [sleep, "60"]
inputs: []
outputs: []
