from hitl_cli.program import main

main()
