cwlVersion: v1.2
class: CommandLineTool
doc: prints the inode number and size of the file it is given, as the job sees it
baseCommand: [stat, -L, -c, "%i %s"]
inputs: {file: {type: File, inputBinding: {}}}
stdout: inode.txt
outputs: {out: stdout}
