from assistdb.cli import main

main()
