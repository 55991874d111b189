"""CSV and XLSX exports of the studies a list shows (DESIGN.md, Interfaces).

``layout`` says what each modality's export holds (columns from the study
schema), ``core`` holds an export in progress, ``csv`` and ``xlsx`` write it.
"""
