from prepline.cli import main

main()
